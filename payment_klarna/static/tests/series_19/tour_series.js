import { defineTourSeries } from "../tours/tour_series";

// Odoo 19.
defineTourSeries({
    leavesPage: { expectUnloadPage: true }, // a step that loads another page must say so
    addressForm: "form.address_autoformat",
    saveAddress: "a[name='website_sale_main_button']",
    orderStatus: "[name='order_confirmation']",
});
