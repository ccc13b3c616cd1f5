from . import test_payload, test_provider, test_provider_form
from . import test_webhook, test_webhook_concurrency, test_webhook_processing
