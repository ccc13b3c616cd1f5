import { defineTourSeries } from "../tours/tour_series";

// Odoo 18.
defineTourSeries({
    leavesPage: {}, // 18's tours follow page loads by themselves (no expectUnloadPage)
    addressForm: "form.checkout_autoformat",
    saveAddress: "#save_address",
    orderStatus: ".oe_website_sale_tx_status",
});
