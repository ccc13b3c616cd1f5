/** @odoo-module **/
/* global Klarna */

/**
 * Klarna's widget on Odoo's payment form, for both series.
 *
 * Odoo 18's payment form is a publicWidget (`static/src/js/payment_form.js` includes these
 * methods), Odoo 19's an interaction (`static/src/interactions/payment_form.js` patches them
 * in). Only the running series' adapter is loaded (`models/ir_asset.py`); this module imports
 * nothing of the payment form, so it loads on both.
 *
 * The methods run as methods of the payment form (`this`). Besides what both series' forms
 * have (`paymentContext`, `_getInlineForm`, `_setPaymentFlow`, `_displayErrorDialog`,
 * `_enableButton`), they need two methods from the adapter:
 * - `_klarnaWaitFor(promise)`: the promise, resolved only while the form is alive;
 * - `_klarnaUnblockUI()`: lift Odoo's blocking overlay.
 * The adapters call `_klarnaPrepareInlineForm` and `_klarnaProcessDirectFlow` for Klarna's
 * payment options only.
 */

import { _t } from "@web/core/l10n/translation";
import { loadJS } from "@web/core/assets";
import { rpc, RPCError } from "@web/core/network/rpc";

/** Klarna's SDK calls back instead of returning promises. */
export function klarnaCall(method, options, data = {}) {
    return new Promise((resolve) => Klarna.Payments[method](options, data, resolve));
}

export const klarnaPaymentForm = {
    /**
     * Open a Klarna session for the cart and render Klarna's widget for the chosen method.
     *
     * @param {number} providerId
     * @param {number} paymentOptionId
     * @param {string} paymentMethodCode
     * @param {string} flow
     */
    async _klarnaPrepareInlineForm(providerId, paymentOptionId, paymentMethodCode, flow) {
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
            await this._klarnaWaitFor(loadJS(values.sdk_url));
            const session = await this._klarnaWaitFor(
                rpc("/payment/klarna/session", {
                    provider_id: providerId,
                    payment_method_code: paymentMethodCode,
                    ...this._klarnaCartParams(container),
                    access_token: this.paymentContext.accessToken,
                })
            );
            Klarna.Payments.init({ client_token: session.client_token });
            const loaded = await this._klarnaWaitFor(
                klarnaCall("load", {
                    container: `#${container.id}`,
                    payment_method_category: values.category,
                })
            );
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

    /**
     * Ask the customer to authorize in Klarna, then let the server place the order.
     *
     * @param {number} paymentOptionId
     * @param {Object} processingValues - the transaction's, from the transaction route
     */
    async _klarnaProcessDirectFlow(paymentOptionId, processingValues) {
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
            const prepared = await this._klarnaWaitFor(
                rpc("/payment/klarna/prepare", {
                    ...txParams,
                    session_id: widget.session_id,
                    session_signature: widget.session_signature,
                })
            );
            // Klarna's own dialog takes over: Odoo's blocking overlay would cover it.
            this._klarnaUnblockUI();
            const result = await this._klarnaWaitFor(
                klarnaCall("authorize", {
                    payment_method_category: prepared.payment_method_category,
                })
            );
            if (result.approved && result.authorization_token) {
                await this._klarnaWaitFor(
                    rpc("/payment/klarna/authorize", {
                        ...txParams,
                        authorization_token: result.authorization_token,
                    })
                );
                window.location = "/payment/status";
                return;
            }
            const declined = result.show_form === false;
            await this._klarnaWaitFor(rpc("/payment/klarna/cancel", { ...txParams, declined }));
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
     * @param {string} message
     */
    _klarnaShowError(message) {
        this._displayErrorDialog(_t("Klarna"), message);
    },
};
