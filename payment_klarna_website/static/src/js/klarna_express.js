/** @odoo-module **/

// Odoo 18: mounts Klarna's express button (../common/klarna_express.js) as a publicWidget;
// loaded on 18 only (payment_klarna/models/ir_asset.py).

import publicWidget from "@web/legacy/js/public/public_widget";
import { KlarnaExpressButton } from "@payment_klarna_website/common/klarna_express";

publicWidget.registry.KlarnaExpressButton = publicWidget.Widget.extend({
    selector: ".o_klarna_express",

    /**
     * @override
     */
    start() {
        new KlarnaExpressButton(this.el).mount(); // not awaited: the page never waits on Klarna
        return this._super(...arguments);
    },
});
