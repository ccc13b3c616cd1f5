from . import payment_klarna_signing_key
from . import payment_provider
