{
    "name": "Klarna: Capture on Delivery",
    "version": "1.0.0",
    "category": "Accounting/Payment Providers",
    "summary": "Capture Klarna payments when the goods of a sales order are delivered.",
    "author": "payment_klarna contributors",
    "website": "https://github.com/payment-klarna/payment_klarna",
    "license": "LGPL-3",
    "depends": ["payment_klarna", "sale_stock"],
    "auto_install": True,
}
