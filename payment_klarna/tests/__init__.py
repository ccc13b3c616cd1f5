from . import (
    test_checkout,
    test_checkout_tour,
    test_hostile_input,
    test_order_management,
    test_payload,
    test_provider,
    test_provider_form,
    test_provider_rpc,
    test_webhook,
    test_webhook_concurrency,
    test_webhook_processing,
    test_widget_sessions,
)
