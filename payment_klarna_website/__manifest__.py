{
    "name": "Klarna on the Storefront",
    "version": "1.0.0",
    "category": "Website/Website",
    "summary": "Klarna On-Site Messaging and Klarna Express Checkout in the Odoo shop.",
    "author": "payment_klarna contributors",
    "website": "https://github.com/payment-klarna/payment_klarna",
    "license": "LGPL-3",
    "depends": ["payment_klarna", "website_sale"],
    "data": [
        "views/payment_provider_views.xml",
        "views/osm_templates.xml",
        "views/express_templates.xml",
    ],
    # As payment_klarna: each series' adapters are in their own bundle, and the "_series"
    # placeholders resolve to the running series' one (payment_klarna/models/ir_asset.py).
    "assets": {
        "web.assets_frontend": [
            "payment_klarna_website/static/src/common/**/*",
            ("include", "payment_klarna_website.assets_frontend_series"),
        ],
        "payment_klarna_website.assets_frontend_18": [
            "payment_klarna_website/static/src/js/**/*",
        ],
        "payment_klarna_website.assets_frontend_19": [
            "payment_klarna_website/static/src/interactions/**/*",
        ],
        "web.assets_tests": [
            "payment_klarna_website/static/tests/tours/**/*",
        ],
    },
    "auto_install": True,
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
}
