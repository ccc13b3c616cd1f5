import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("payment_klarna_provider_form", {
    steps: () => [
        {
            content: "Switch the provider to test mode (Klarna's playground)",
            trigger: "div[name='state'] input[data-value='test']",
            run: "click",
        },
        {
            content: "The Klarna credentials are on the form",
            trigger: "div[name='klarna_api_username'] input",
            run: "edit PK99999_tour",
        },
        {
            content: "Type the API password",
            trigger: "div[name='klarna_api_password'] input[type='password']",
            run: "edit tour-password",
        },
        {
            content: "Choose the Oceania region",
            trigger: "div[name='klarna_region'] input[data-value='oc']",
            run: "click",
        },
        {
            content: "The webhook URL is shown for copying",
            trigger: "div[name='klarna_webhook_url']:contains('/klarna/webhook')",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
        },
        {
            content: "Test the connection",
            trigger: "button[name='action_klarna_test_connection']",
            run: "click",
        },
        {
            content: "Klarna accepted the credentials",
            trigger: ".o_notification:contains('Klarna accepted the credentials')",
        },
    ],
});
