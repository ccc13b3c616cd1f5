from . import (
    test_checkout,
    test_checkout_german,
    test_checkout_tour,
    test_order_management,
    test_payload,
    test_provider,
    test_provider_form,
    test_webhook,
    test_webhook_concurrency,
    test_webhook_processing,
)
