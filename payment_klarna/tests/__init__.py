from . import test_payload, test_provider, test_provider_form
