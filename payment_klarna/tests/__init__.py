from . import test_provider, test_provider_form
