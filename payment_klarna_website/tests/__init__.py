from . import test_express
