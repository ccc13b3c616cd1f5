/** @odoo-module **/

/**
 * Klarna On-Site Messaging placements follow the amount they show, for both series.
 *
 * The server renders each `klarna-placement` with its amount in minor units; this module only
 * moves that amount when the page changes it: the product page's variant or quantity (the
 * combination information's `klarna_osm_amount`, see controllers/osm.py) and the cart's total
 * (website_sale's `cart_amount_changed` bus event, which carries it in minor units). The
 * series' adapters (`static/src/js/klarna_osm.js` on 18, `static/src/interactions/` on 19)
 * hook these functions into website_sale; this module imports nothing of it.
 */

/**
 * Show `minorAmount` in `placements` and have Klarna's library re-render them. Before the
 * library has loaded there is nothing to refresh: it reads the attribute when it loads.
 *
 * @param {Iterable<Element>} placements `klarna-placement` elements
 * @param {number} minorAmount an integer in the currency's minor units
 */
export function setKlarnaAmount(placements, minorAmount) {
    if (!Number.isInteger(minorAmount)) {
        return;
    }
    for (const placement of placements) {
        placement.dataset.purchaseAmount = String(minorAmount);
    }
    window.Klarna?.OnsiteMessaging?.refresh?.();
}

/**
 * The product page's combination changed (variant, quantity): update its placement.
 *
 * @param {Element} product the `.js_product` element the combination belongs to
 * @param {Object} combination the answer of `/website_sale/get_combination_info`
 */
export function onKlarnaCombination(product, combination) {
    const placements = product.querySelectorAll("klarna-placement.o_klarna_osm_product");
    if (placements.length) {
        setKlarnaAmount(placements, combination.klarna_osm_amount);
    }
}

/**
 * The cart changed: `cart_amount_changed`'s detail is `[amount, minorAmount]`.
 *
 * @param {Element} placement a placement showing the cart's total
 * @param {CustomEvent} ev
 */
export function onKlarnaCartAmount(placement, ev) {
    setKlarnaAmount([placement], ev.detail?.[1]);
}
