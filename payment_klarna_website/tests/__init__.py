from . import test_osm
