import { registry } from "@web/core/registry";
import * as tourUtils from "@website_sale/js/tours/tour_utils";
import { tourSeries } from "./tour_series";

// From the filled-in address to Klarna's page: the steps every Klarna checkout tour takes.
export function payWithKlarna() {
    return [
        tourUtils.confirmOrder(),
        {
            content: "Choose Klarna",
            trigger: 'input[name="o_payment_radio"][data-payment-method-code="klarna"]',
            run: "click",
        },
        {
            content: "Klarna's widget shows the offer",
            trigger: ".klarna-sim-widget[data-klarna-sim-category='pay_later']",
        },
        ...[tourUtils.pay()].flat(), // a step on 18, a list of steps on 19
    ];
}

export function upToKlarna() {
    return [
        ...tourUtils.addToCart({ productName: "Klarna Tour Chair", ...tourSeries().leavesPage }),
        tourUtils.goToCart(),
        tourUtils.goToCheckout(),
        ...payWithKlarna(),
    ];
}

registry.category("web_tour.tours").add("payment_klarna_checkout_approve", {
    steps: () => [
        ...upToKlarna(),
        {
            content: "Approve in Klarna",
            trigger: "#klarna-sim-approve",
            run: "click",
            ...tourSeries().leavesPage,
        },
        {
            content: "The order is confirmed and the payment authorized",
            trigger: `${tourSeries().orderStatus}:contains('authorized')`,
        },
    ],
});

registry.category("web_tour.tours").add("payment_klarna_checkout_decline", {
    steps: () => [
        ...upToKlarna(),
        {
            content: "Decline in Klarna",
            trigger: "#klarna-sim-decline",
            run: "click",
        },
        {
            content: "A clear message says Klarna declined",
            trigger: ".modal-body:contains('Klarna declined this payment')",
        },
        {
            content: "Close the message",
            trigger: ".modal-footer button",
            run: "click",
        },
        {
            content: "The cart is still payable",
            trigger: 'button[name="o_payment_submit_button"]:not(:disabled)',
        },
    ],
});
