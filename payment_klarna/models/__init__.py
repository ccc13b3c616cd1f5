from . import payment_klarna_signing_key, payment_provider
from . import payment_klarna_event
