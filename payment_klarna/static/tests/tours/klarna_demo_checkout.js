import { registry } from "@web/core/registry";
import * as tourUtils from "@website_sale/js/tours/tour_utils";
import { payWithKlarna } from "./klarna_checkout";
import { tourSeries } from "./tour_series";

// The demo shop's customer journey (tools/demo_check.py runs it against `make demo`): a guest
// buys a demo product, pays with Klarna in the simulator's widget and lands on the order
// confirmation page, which appears only once Odoo's post-processing has finished.
registry.category("web_tour.tours").add("payment_klarna_demo_checkout", {
    // Start on the search results: searching from /shop navigates while /shop still shows
    // the product's link, so the next click could land on the page being left.
    url: "/shop?search=Storage%20Box",
    steps: () => [
        ...tourUtils.addToCart({
            productName: "Storage Box",
            search: false,
            ...tourSeries().leavesPage,
        }),
        tourUtils.goToCart(),
        tourUtils.goToCheckout(),
        {
            content: "Fill in a New York address as a guest",
            trigger: `${tourSeries().addressForm} select[name='country_id']`,
            run() {
                const form = document.querySelector(tourSeries().addressForm);
                const values = {
                    name: "Kim Customer",
                    email: "kim.customer@example.com",
                    phone: "+1 212 736 3100",
                    street: "350 Fifth Avenue",
                    city: "New York",
                    zip: "10118",
                };
                for (const [name, value] of Object.entries(values)) {
                    form.querySelector(`input[name='${name}']`).value = value;
                }
                const country = form.querySelector("select[name='country_id']");
                country.value = [...country.options].find((o) => o.getAttribute("code") === "US").value;
                country.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        {
            content: "Pick the state once the form offers the US states",
            trigger: `${tourSeries().addressForm} select[name='state_id']:has(option:contains(New York))`,
            run() {
                const state = document.querySelector("select[name='state_id']");
                state.value = [...state.options].find((o) => o.text.trim() === "New York").value;
            },
        },
        {
            content: "Continue to the delivery and payment step",
            trigger: tourSeries().saveAddress,
            run: "click",
            ...tourSeries().leavesPage,
        },
        ...payWithKlarna(),
        {
            content: "Approve in Klarna",
            trigger: "#klarna-sim-approve",
            run: "click",
            ...tourSeries().leavesPage,
        },
        {
            content: "The order confirmation page, reached only after post-processing",
            trigger: `${tourSeries().orderStatus}:contains('authorized')`,
            timeout: 60000,
        },
        {
            content: "It is the order confirmation page, with no error message on it",
            trigger: "body:not(:has(.o_notification, .o_error_dialog))",
            run() {
                if (!window.location.pathname.startsWith("/shop/confirmation")) {
                    console.error(`Not the confirmation page: ${window.location.pathname}`);
                }
            },
        },
    ],
});
