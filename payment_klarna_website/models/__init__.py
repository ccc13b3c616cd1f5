from . import payment_provider, product_product, website
