/** @odoo-module **/

// Odoo 18: website_sale is a publicWidget. The On-Site Messaging logic is in
// ../common/klarna_osm.js; this adapter, loaded on 18 only (payment_klarna/models/ir_asset.py),
// hands it the product page's combinations and the cart's amount changes.

import { Component } from "@odoo/owl";
import publicWidget from "@web/legacy/js/public/public_widget";
import "@website_sale/js/website_sale";
import { onKlarnaCartAmount, onKlarnaCombination } from "@payment_klarna_website/common/klarna_osm";

publicWidget.registry.WebsiteSale.include({
    /**
     * @override method from @website_sale/js/sale_variant_mixin
     */
    _onChangeCombination(ev, $parent, combination) {
        const result = this._super(...arguments);
        onKlarnaCombination($parent[0], combination);
        return result;
    },
});

publicWidget.registry.KlarnaOsmOrderPlacement = publicWidget.Widget.extend({
    selector: "klarna-placement.o_klarna_osm_order",

    start() {
        this._onCartAmount = (ev) => onKlarnaCartAmount(this.el, ev);
        Component.env.bus.addEventListener("cart_amount_changed", this._onCartAmount);
        return this._super(...arguments);
    },

    destroy() {
        Component.env.bus.removeEventListener("cart_amount_changed", this._onCartAmount);
        this._super(...arguments);
    },
});
