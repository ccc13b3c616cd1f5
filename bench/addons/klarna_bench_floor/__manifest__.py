{
    "name": "Klarna webhook bench: durable floor",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "summary": "Bench only: the least a verified, durable webhook acknowledgement costs.",
    "author": "payment_klarna contributors",
    "website": "https://github.com/payment-klarna/payment_klarna",
    "license": "LGPL-3",
    "depends": ["payment_klarna"],
    "data": ["security/ir.model.access.csv"],
}
