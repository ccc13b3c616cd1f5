import { registry } from "@web/core/registry";
import * as tourUtils from "@website_sale/js/tours/tour_utils";
import { tourSeries } from "@payment_klarna/../tests/tours/tour_series";

// Klarna Express Checkout against the simulator's pop-up (klarna_simulator/sdk.js).

function approveInKlarna(address) {
    return [
        {
            content: "Klarna's express button",
            trigger: ".o_klarna_express .klarna-sim-express-button",
            run: "click",
        },
        {
            content: `Klarna collects the ${address} address`,
            trigger: "#klarna-sim-modal #klarna-sim-address",
            run: `select ${address}`,
        },
        {
            content: "Approve in Klarna",
            trigger: "#klarna-sim-modal #klarna-sim-approve",
            run: "click",
        },
    ];
}

function payTheReviewedTotal(totalMinor, { reauthorize }) {
    const pay = {
        content: "Pay with Klarna",
        trigger: "#o_klarna_express_pay",
        run: "click",
    };
    return [
        {
            content: `Odoo re-priced the cart for the address: ${totalMinor / 100}`,
            trigger: `#o_klarna_express_review .o_klarna_express_total[data-amount-minor='${totalMinor}']`,
        },
        ...(reauthorize
            ? [
                  pay,
                  {
                      content: "Klarna asks to confirm the new total (delivery or taxes changed it)",
                      trigger: "#klarna-sim-modal:contains('confirm the new total') #klarna-sim-approve",
                      run: "click",
                      ...tourSeries().leavesPage,
                  },
              ]
            : [{ ...pay, ...tourSeries().leavesPage }]), // the total the shopper approved
        {
            content: "The order is confirmed and the payment authorized",
            trigger: `${tourSeries().orderStatus}:contains('authorized')`,
        },
    ];
}

registry.category("web_tour.tours").add("payment_klarna_website_express_product", {
    steps: () => [
        ...approveInKlarna("default"),
        ...payTheReviewedTotal(11500, { reauthorize: true }), // + delivery
    ],
});

registry.category("web_tour.tours").add("payment_klarna_website_express_tax", {
    steps: () => [
        ...approveInKlarna("changed"),
        // 5 % tax instead of 10 %, plus 5 delivery: the total Klarna authorized, by chance
        ...payTheReviewedTotal(11000, { reauthorize: false }),
    ],
});

registry.category("web_tour.tours").add("payment_klarna_website_express_cart", {
    steps: () => [
        ...tourUtils.addToCart({ productName: "Klarna Express Chair", ...tourSeries().leavesPage }),
        tourUtils.goToCart(),
        {
            // A step of its own: clicked in the first step after the cart page loaded, the
            // button did not get the click on Odoo 18 (the tour resumes before the page is idle).
            content: "The cart's express checkout form is ready",
            trigger: "form[name='o_payment_express_checkout_form'] .klarna-sim-express-button",
        },
        ...approveInKlarna("default"),
        ...payTheReviewedTotal(11500, { reauthorize: true }),
    ],
});

registry.category("web_tour.tours").add("payment_klarna_website_express_decline", {
    steps: () => [
        {
            content: "Klarna's express button",
            trigger: ".o_klarna_express .klarna-sim-express-button",
            run: "click",
        },
        {
            content: "Decline in Klarna",
            trigger: "#klarna-sim-modal #klarna-sim-decline",
            run: "click",
        },
        {
            content: "A clear message says Klarna declined",
            trigger: ".o_klarna_express_error:contains('Klarna declined this payment')",
        },
        {
            content: "No review of a payment that will not happen",
            trigger: "body:not(:has(#o_klarna_express_review))",
        },
    ],
});
