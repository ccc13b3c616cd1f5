// Odoo 19: website_sale is an interaction. The On-Site Messaging logic is in
// ../common/klarna_osm.js; this adapter, loaded on 19 only (payment_klarna/models/ir_asset.py),
// hands it the product page's combinations and the cart's amount changes.

import { registry } from "@web/core/registry";
import { patch } from "@web/core/utils/patch";
import { Interaction } from "@web/public/interaction";
import { WebsiteSale } from "@website_sale/interactions/website_sale";
import { onKlarnaCartAmount, onKlarnaCombination } from "@payment_klarna_website/common/klarna_osm";

patch(WebsiteSale.prototype, {
    /**
     * @override method from @website_sale/js/variant_mixin
     */
    _onChangeCombination(ev, parent, combination) {
        const result = super._onChangeCombination(...arguments);
        onKlarnaCombination(parent, combination);
        return result;
    },
});

export class KlarnaOsmOrderPlacement extends Interaction {
    static selector = "klarna-placement.o_klarna_osm_order";

    start() {
        this.addListener(this.env.bus, "cart_amount_changed", (ev) =>
            onKlarnaCartAmount(this.el, ev)
        );
    }
}

registry
    .category("public.interactions")
    .add("payment_klarna_website.osm_order_placement", KlarnaOsmOrderPlacement);
