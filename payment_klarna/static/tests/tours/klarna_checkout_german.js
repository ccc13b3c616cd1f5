import { registry } from "@web/core/registry";
import { upToKlarna } from "./klarna_checkout";

// A German customer declines in Klarna: the checkout's Klarna message reaches them in German.
registry.category("web_tour.tours").add("payment_klarna_checkout_decline_german", {
    steps: () => [
        ...upToKlarna(),
        {
            content: "Decline in Klarna",
            trigger: "#klarna-sim-decline",
            run: "click",
        },
        {
            content: "The message is German",
            trigger:
                ".modal-content:has(.modal-title:contains('Zahlung nicht abgeschlossen'))" +
                " .modal-body:contains('Klarna hat diese Zahlung abgelehnt')",
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
