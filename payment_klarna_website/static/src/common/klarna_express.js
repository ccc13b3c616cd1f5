/** @odoo-module **/
/* global Klarna */

/**
 * Klarna Express Checkout's button, for both series (each series' adapter mounts it on the
 * `.o_klarna_express` containers the server renders: in the cart through Odoo's express
 * checkout form, on the product page next to "Add to cart").
 *
 * The steps (docs/klarna-storefront.md §4.3): the start route gives the cart Klarna
 * authorizes; Klarna collects the address; the address route re-prices the cart for it; the
 * shopper reviews delivery and total here; Odoo's transaction route creates the payment; the
 * express prepare route puts the re-priced cart into Klarna's session; Klarna's finalize
 * confirms that cart and gives the authorization token, with which the server places the
 * order as at the regular checkout.
 */

import { _t } from "@web/core/l10n/translation";
import { loadJS } from "@web/core/assets";
import { rpc, RPCError } from "@web/core/network/rpc";

const OPTIONS = { collect_shipping_address: true, auto_finalize: false };

export class KlarnaExpressButton {
    /**
     * @param {HTMLElement} container - the server-rendered `.o_klarna_express` element
     */
    constructor(container) {
        this.container = container;
        this.data = container.dataset;
        this.providerId = parseInt(this.data.providerId);
    }

    /** Load Klarna's library and render its button; the page never waits for it. */
    async mount() {
        try {
            await loadJS(this.data.sdkUrl);
        } catch {
            return; // Klarna unreachable: the shop's own checkout stays.
        }
        const target = document.createElement("div");
        target.className = "o_klarna_express_button";
        this.container.replaceChildren(target);
        Klarna.Payments.Buttons.init({ client_id: this.data.clientId }).load(
            {
                container: target,
                theme: this.data.theme,
                shape: this.data.shape,
                locale: this.data.locale,
                on_click: (authorize) => this.onClick(authorize),
            },
            (result) => {
                if (result && result.show_button === false) {
                    this.container.classList.add("d-none");
                }
            }
        );
    }

    /**
     * @param {Function} authorize - Klarna's authorize for this click
     */
    async onClick(authorize) {
        this.showError("");
        try {
            const start = await rpc("/payment/klarna/express/start", {
                provider_id: this.providerId,
                ...this.productParams(),
            });
            const authorized = await new Promise((resolve) =>
                authorize(OPTIONS, start.payload, resolve)
            );
            if (!authorized.approved) {
                if (authorized.show_form === false) {
                    this.showError(_t("Klarna: Klarna declined this payment. Check out without Klarna Express Checkout."));
                }
                return;
            }
            const review = await rpc("/payment/klarna/express/address", {
                provider_id: this.providerId,
                start_signature: start.start_signature,
                client_token: authorized.client_token,
                address: authorized.collected_shipping_address,
            });
            if (await this.reviewed(review)) {
                await this.pay(start, review, authorized);
            }
        } catch (error) {
            this.showError(
                error instanceof RPCError
                    ? error.data.message
                    : _t("Klarna: the payment could not be completed. Please try again.")
            );
        }
    }

    /** On the product page, the variant and quantity shown; nothing in the cart. */
    productParams() {
        if (!this.data.productPage) {
            return {};
        }
        const form = this.container.closest("form") || document;
        const product = form.querySelector('input[name="product_id"]') ||
            document.querySelector('#product_details input[name="product_id"]');
        const quantity = document.querySelector('#product_details input[name="add_qty"]');
        return {
            product_id: parseInt(product.value),
            quantity: quantity ? parseFloat(quantity.value) || 1 : 1,
        };
    }

    /**
     * Show the re-priced cart: delivery methods and the total the shopper confirms in Klarna.
     *
     * @param {Object} review - the address route's answer
     * @return {Promise<boolean>} whether the shopper chose to pay
     */
    reviewed(review) {
        return new Promise((resolve) => {
            const dialog = document.createElement("div");
            dialog.id = "o_klarna_express_review";
            dialog.className = "modal d-block";
            dialog.setAttribute("role", "dialog");
            dialog.style.background = "rgba(0,0,0,.4)";
            dialog.innerHTML = `
                <div class="modal-dialog modal-dialog-centered"><div class="modal-content">
                  <div class="modal-header"><h5 class="modal-title"></h5></div>
                  <div class="modal-body">
                    <div class="o_klarna_express_methods mb-3"></div>
                    <table class="table table-sm mb-0"><tbody>
                      <tr><td class="o_klarna_express_tax_label"></td><td class="text-end o_klarna_express_tax"></td></tr>
                      <tr class="fw-bold"><td class="o_klarna_express_total_label"></td><td class="text-end o_klarna_express_total"></td></tr>
                    </tbody></table>
                  </div>
                  <div class="modal-footer">
                    <button type="button" class="btn btn-secondary" id="o_klarna_express_cancel"></button>
                    <button type="button" class="btn btn-primary" id="o_klarna_express_pay"></button>
                  </div>
                </div></div>`;
            dialog.querySelector(".modal-title").textContent = _t("Confirm your order");
            dialog.querySelector(".o_klarna_express_tax_label").textContent = _t("Taxes");
            dialog.querySelector(".o_klarna_express_total_label").textContent = _t("Total");
            dialog.querySelector("#o_klarna_express_cancel").textContent = _t("Cancel");
            dialog.querySelector("#o_klarna_express_pay").textContent = _t("Pay with Klarna");
            const show = (values) => {
                const methods = dialog.querySelector(".o_klarna_express_methods");
                methods.replaceChildren(
                    ...values.delivery_methods.map((method) => {
                        const label = document.createElement("label");
                        label.className = "form-check d-flex justify-content-between";
                        const input = document.createElement("input");
                        Object.assign(input, {
                            type: "radio",
                            name: "o_klarna_express_delivery",
                            className: "form-check-input me-2",
                            value: method.id,
                            checked: method.id === values.delivery_method_id,
                        });
                        const name = document.createElement("span");
                        name.className = "flex-grow-1";
                        name.textContent = method.name;
                        const price = document.createElement("span");
                        price.textContent = method.amount.text;
                        label.append(input, name, price);
                        return label;
                    })
                );
                dialog.querySelector(".o_klarna_express_tax").textContent = values.amount_tax.text;
                const total = dialog.querySelector(".o_klarna_express_total");
                total.textContent = values.amount_total.text;
                total.dataset.amountMinor = values.amount_total.minor;
                Object.assign(review, values);
            };
            show(review);
            dialog.addEventListener("change", async (ev) => {
                if (ev.target.name !== "o_klarna_express_delivery") {
                    return;
                }
                try {
                    show(await rpc("/payment/klarna/express/delivery", {
                        provider_id: this.providerId,
                        delivery_method_id: parseInt(ev.target.value),
                    }));
                } catch (error) {
                    this.showError(error instanceof RPCError ? error.data.message : "");
                    dialog.remove();
                    resolve(false);
                }
            });
            const close = (pay) => {
                dialog.remove();
                resolve(pay);
            };
            dialog.querySelector("#o_klarna_express_cancel").addEventListener("click", () => close(false));
            dialog.querySelector("#o_klarna_express_pay").addEventListener("click", () => close(true));
            document.body.appendChild(dialog);
        });
    }

    /**
     * Create the payment, confirm the re-priced cart in Klarna, let the server place the order.
     *
     * Klarna may have authorized the start cart already (no finalization asked): that
     * authorization holds only for that very total, anything else is confirmed anew.
     *
     * @param {Object} start - the start route's answer (the cart Klarna authorized)
     * @param {Object} review - the address route's answer (amounts as last shown)
     * @param {Object} authorized - Klarna's answer to authorize
     */
    async pay(start, review, authorized) {
        const authorizedAlready = authorized.finalize_required === false && authorized.authorization_token;
        if (authorizedAlready && review.amount_total.minor !== start.payload.order_amount) {
            this.showError(
                _t("Klarna: the total changed to %s with your address. Click the Klarna button again to confirm it.", review.amount_total.text)
            );
            return;
        }
        const processing = await rpc(review.transaction_route, {
            ...review.transaction_params,
            amount: review.amount_total.value, // the total shown: the server refuses another
        });
        const txParams = {
            reference: processing.reference,
            access_token: processing.klarna_access_token,
        };
        const prepared = await rpc("/payment/klarna/express/prepare", {
            ...txParams,
            session_id: review.session_id,
            session_signature: review.session_signature,
        });
        Klarna.Payments.init({ client_token: authorized.client_token });
        const finalized = authorizedAlready
            ? authorized
            : await new Promise((resolve) => Klarna.Payments.finalize({}, prepared.payload, resolve));
        if (finalized.approved && finalized.authorization_token) {
            await rpc("/payment/klarna/authorize", {
                ...txParams,
                authorization_token: finalized.authorization_token,
            });
            window.location = "/payment/status";
            return;
        }
        const declined = finalized.show_form === false;
        await rpc("/payment/klarna/cancel", { ...txParams, declined });
        this.showError(
            declined
                ? _t("Klarna: Klarna declined this payment. Check out without Klarna Express Checkout.")
                : _t("Klarna: the payment was not approved. You can try again.")
        );
    }

    /**
     * @param {string} message - empty to clear
     */
    showError(message) {
        let box = this.container.parentElement.querySelector(".o_klarna_express_error");
        if (!box) {
            box = document.createElement("div");
            box.className = "o_klarna_express_error alert alert-warning mt-2";
            box.setAttribute("role", "alert");
            this.container.after(box);
        }
        box.textContent = message;
        box.classList.toggle("d-none", !message);
    }
}
