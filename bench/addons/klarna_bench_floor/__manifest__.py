{
    "name": "Klarna bench: durable floor and order management",
    "version": "1.0.0",
    "category": "Hidden",
    "summary": "Bench only: the durable webhook floor, and captures and refunds on request.",
    "author": "payment_klarna contributors",
    "website": "https://github.com/payment-klarna/payment_klarna",
    "license": "LGPL-3",
    "depends": ["payment_klarna", "sale"],
    "data": ["security/ir.model.access.csv"],
}
