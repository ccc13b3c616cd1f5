// Odoo 19: mounts Klarna's express button (../common/klarna_express.js) as an interaction;
// loaded on 19 only (payment_klarna/models/ir_asset.py).

import { Interaction } from "@web/public/interaction";
import { registry } from "@web/core/registry";
import { KlarnaExpressButton } from "@payment_klarna_website/common/klarna_express";

export class KlarnaExpress extends Interaction {
    static selector = ".o_klarna_express";

    start() {
        new KlarnaExpressButton(this.el).mount(); // not awaited: the page never waits on Klarna
    }
}

registry.category("public.interactions").add("payment_klarna_website.klarna_express", KlarnaExpress);
