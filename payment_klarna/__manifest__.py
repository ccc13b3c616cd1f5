{
    "name": "Payment Provider: Klarna",
    "version": "1.0.0",
    "category": "Accounting/Payment Providers",
    "sequence": 350,
    "summary": "Klarna Payments: pay now, pay later and pay over time, with order management.",
    "author": "payment_klarna contributors",
    "website": "https://github.com/payment-klarna/payment_klarna",
    "license": "LGPL-3",
    "depends": ["account_payment", "sale"],
    "external_dependencies": {"python": ["requests", "cryptography"]},
    "data": [
        "security/ir.model.access.csv",
        "views/payment_provider_views.xml",
        "views/payment_klarna_signing_key_views.xml",
        "views/payment_klarna_event_views.xml",
        "views/payment_klarna_templates.xml",
        "data/ir_cron.xml",
        "data/ir_cron_webhooks.xml",
        "data/payment_provider_data.xml",
        "data/ir_cron_management.xml",
        "views/payment_klarna_operation_views.xml",
    ],
    "assets": {
        "web.assets_frontend": [
            "payment_klarna/static/src/js/**/*",
        ],
        "web.assets_tests": [
            "payment_klarna/static/tests/tours/**/*",
        ],
    },
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
}
