from . import test_capture_on_delivery, test_query_counts
