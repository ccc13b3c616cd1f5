// Odoo 19: the payment form is an interaction. The Klarna logic is in
// ../common/klarna_payment_form.js; this adapter, loaded on 19 only (models/ir_asset.py),
// hands Klarna's payment options to it.

import { patch } from "@web/core/utils/patch";
import { PaymentForm } from "@payment/interactions/payment_form";
import { klarnaPaymentForm } from "@payment_klarna/common/klarna_payment_form";

patch(PaymentForm.prototype, {
    ...klarnaPaymentForm,

    /**
     * @override method from @payment/interactions/payment_form
     */
    async _prepareInlineForm(providerId, providerCode, paymentOptionId, paymentMethodCode, flow) {
        if (providerCode !== "klarna") {
            return super._prepareInlineForm(...arguments);
        }
        return this._klarnaPrepareInlineForm(providerId, paymentOptionId, paymentMethodCode, flow);
    },

    /**
     * @override method from @payment/interactions/payment_form
     */
    async _processDirectFlow(providerCode, paymentOptionId, paymentMethodCode, processingValues) {
        if (providerCode !== "klarna") {
            return super._processDirectFlow(...arguments);
        }
        return this._klarnaProcessDirectFlow(paymentOptionId, processingValues);
    },

    _klarnaWaitFor(promise) {
        return this.waitFor(promise); // settles only while the interaction lives
    },

    _klarnaUnblockUI() {
        this.env.bus.trigger("ui", "unblock"); // as the 19 payment form unblocks
    },
});
