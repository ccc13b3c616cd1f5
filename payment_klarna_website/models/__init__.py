from . import payment_provider, website
