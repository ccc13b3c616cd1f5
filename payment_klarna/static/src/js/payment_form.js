/** @odoo-module **/

// Odoo 18: the payment form is a publicWidget. The Klarna logic is in
// ../common/klarna_payment_form.js; this adapter, loaded on 18 only (models/ir_asset.py),
// hands Klarna's payment options to it.

import paymentForm from "@payment/js/payment_form";
import { klarnaPaymentForm } from "@payment_klarna/common/klarna_payment_form";

paymentForm.include({
    ...klarnaPaymentForm,

    klarnaWidgets: undefined,

    /**
     * @override method from @payment/js/payment_form
     */
    async _prepareInlineForm(providerId, providerCode, paymentOptionId, paymentMethodCode, flow) {
        if (providerCode !== "klarna") {
            return this._super(...arguments);
        }
        return this._klarnaPrepareInlineForm(providerId, paymentOptionId, paymentMethodCode, flow);
    },

    /**
     * @override method from @payment/js/payment_form
     */
    async _processDirectFlow(providerCode, paymentOptionId, paymentMethodCode, processingValues) {
        if (providerCode !== "klarna") {
            return this._super(...arguments);
        }
        return this._klarnaProcessDirectFlow(paymentOptionId, processingValues);
    },

    _klarnaWaitFor(promise) {
        return promise; // a publicWidget has no lifecycle guard for promises
    },

    _klarnaUnblockUI() {
        this.call("ui", "unblock");
    },
});
