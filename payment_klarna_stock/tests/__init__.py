from . import test_capture_on_delivery
