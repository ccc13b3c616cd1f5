from . import payment_klarna_signing_key, payment_provider
