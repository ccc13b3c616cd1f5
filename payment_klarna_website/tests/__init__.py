from . import test_express, test_express_tour, test_osm
