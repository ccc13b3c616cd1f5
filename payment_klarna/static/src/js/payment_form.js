/** @odoo-module **/
/* global Klarna */

import { _t } from "@web/core/l10n/translation";
import { loadJS } from "@web/core/assets";
import { rpc, RPCError } from "@web/core/network/rpc";
import paymentForm from "@payment/js/payment_form";

/** Klarna's SDK calls back instead of returning promises. */
function klarnaCall(method, options, data = {}) {
    return new Promise((resolve) => Klarna.Payments[method](options, data, resolve));
}

paymentForm.include({
    klarnaWidgets: undefined,

    // #=== DOM MANIPULATION ===#

    /**
     * Open a Klarna session for the cart and render Klarna's widget for the chosen method.
     *
     * @override method from @payment/js/payment_form
     */
    async _prepareInlineForm(providerId, providerCode, paymentOptionId, paymentMethodCode, flow) {
        if (providerCode !== "klarna") {
            return this._super(...arguments);
        }
        const radio = document.querySelector('input[name="o_payment_radio"]:checked');
        const values = JSON.parse(radio.dataset.klarnaInlineFormValues);
        if (flow === "token" || values.flow !== "direct") {
            return; // The hosted page uses Odoo's redirect flow.
        }
        this._setPaymentFlow("direct");
        this.klarnaWidgets ??= {};
        if (this.klarnaWidgets[paymentOptionId]) {
            return;
        }
        const container = this._getInlineForm(radio).querySelector('[name="o_klarna_container"]');
        try {
            await loadJS(values.sdk_url);
            const session = await rpc("/payment/klarna/session", {
                provider_id: providerId,
                payment_method_code: paymentMethodCode,
                ...this._klarnaCartParams(container),
                access_token: this.paymentContext.accessToken,
            });
            Klarna.Payments.init({ client_token: session.client_token });
            const loaded = await klarnaCall("load", {
                container: `#${container.id}`,
                payment_method_category: values.category,
            });
            if (!loaded.show_form) {
                this._klarnaShowError(
                    _t("Klarna: this option is not available for this purchase. Choose another payment method.")
                );
                return;
            }
            this.klarnaWidgets[paymentOptionId] = { ...session, category: values.category };
        } catch (error) {
            this._klarnaShowError(
                error instanceof RPCError
                    ? error.data.message
                    : _t("Klarna: the payment option could not be loaded. Reload the page or choose another payment method.")
            );
        }
    },

    // #=== PAYMENT FLOW ===#

    /**
     * Ask the customer to authorize in Klarna, then let the server place the order.
     *
     * @override method from @payment/js/payment_form
     */
    async _processDirectFlow(providerCode, paymentOptionId, paymentMethodCode, processingValues) {
        if (providerCode !== "klarna") {
            return this._super(...arguments);
        }
        const widget = this.klarnaWidgets?.[paymentOptionId];
        if (!widget) {
            this._klarnaShowError(
                _t("Klarna: the payment option is not ready. Reload the page or choose another payment method.")
            );
            this._enableButton();
            return;
        }
        const txParams = {
            reference: processingValues.reference,
            access_token: processingValues.klarna_access_token,
        };
        try {
            const prepared = await rpc("/payment/klarna/prepare", {
                ...txParams,
                session_id: widget.session_id,
                session_signature: widget.session_signature,
            });
            // Klarna's own dialog takes over: Odoo's blocking overlay would cover it.
            this.call("ui", "unblock");
            const result = await klarnaCall("authorize", {
                payment_method_category: prepared.payment_method_category,
            });
            if (result.approved && result.authorization_token) {
                await rpc("/payment/klarna/authorize", {
                    ...txParams,
                    authorization_token: result.authorization_token,
                });
                window.location = "/payment/status";
                return;
            }
            const declined = result.show_form === false;
            await rpc("/payment/klarna/cancel", { ...txParams, declined });
            if (declined) {
                delete this.klarnaWidgets[paymentOptionId];
            }
            this._displayErrorDialog(
                _t("Payment not completed"),
                declined
                    ? _t("Klarna: Klarna declined this payment. Choose another payment method.")
                    : _t("Klarna: the payment was not approved. You can try again.")
            );
        } catch (error) {
            this._displayErrorDialog(
                _t("Payment processing failed"),
                error instanceof RPCError
                    ? error.data.message
                    : _t("Klarna: the payment could not be completed. Please try again.")
            );
        }
        this._enableButton();
    },

    /**
     * What the session route opens a session for: the document the payment form pays, as the
     * inline form names it, or else a payment link's amount (checked with its access token).
     *
     * @private
     * @param {HTMLElement} container - the inline form's Klarna container
     * @return {Object}
     */
    _klarnaCartParams(container) {
        const { klarnaDocumentModel, klarnaDocumentId } = container.dataset;
        if (klarnaDocumentModel) {
            return { document_model: klarnaDocumentModel, document_id: parseInt(klarnaDocumentId) };
        }
        return {
            amount: this.paymentContext.amount,
            currency_id: this.paymentContext.currencyId,
            partner_id: this.paymentContext.partnerId,
        };
    },

    /**
     * @private
     * @param {string} message
     */
    _klarnaShowError(message) {
        this._displayErrorDialog(_t("Klarna"), message);
    },
});
