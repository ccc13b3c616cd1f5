import unittest
from contextlib import contextmanager
from unittest.mock import patch

from odoo.tools import config

from odoo.addons.payment.tests.common import PaymentCommon
from odoo.addons.payment_klarna import const
from odoo.addons.payment_klarna.klarna.secret_box import generate_key

try:
    from klarna_simulator import Simulator
except ImportError:  # the simulator lives beside the addons, not inside them
    Simulator = None

# Fixed keys for the tests; never used outside them.
TEST_SECRET_KEY = generate_key()
OLD_SECRET_KEY = generate_key()


@contextmanager
def secret_keys(setting):
    """Run with ``setting`` as the only source of encryption keys (None: no key at all)."""
    with (
        patch.dict(config.options, {const.SECRET_KEYS_CONFIG_OPTION: setting}),
        patch.dict("os.environ", {const.SECRET_KEYS_ENV_VARIABLE: ""}),
    ):
        yield


def start_simulator(test_class, **settings):
    """A Klarna simulator for ``test_class``, stopped with it; without the simulator on the
    path the class is skipped (and reported so)."""
    if Simulator is None:
        raise unittest.SkipTest(
            "klarna_simulator is not importable: add the repository root to PYTHONPATH"
        )
    simulator = Simulator(**settings)
    simulator.start()
    test_class.addClassCleanup(simulator.stop)
    return simulator


class LocalRequests:
    """Odoo 19's test guard on outbound requests compares ``timeout`` with a number, while
    the client gives requests its ``(connect, read)`` pair: the guard gets the longer one."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if isinstance(kw.get("timeout"), tuple):
            kw["timeout"] = max(kw["timeout"])
        return super()._request_handler(s, r, **kw)


class KlarnaCommon(LocalRequests, PaymentCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.startClassPatcher(
            patch.dict(config.options, {const.SECRET_KEYS_CONFIG_OPTION: TEST_SECRET_KEY})
        )
        cls.klarna = cls._prepare_provider(
            "klarna",
            update_values={
                "klarna_api_username": "PK12345_test",
                "klarna_api_password": "playground-password",
                "klarna_region": "eu",
                "klarna_capture_policy": "manual",
            },
        )
        cls.provider = cls.klarna

    @classmethod
    def _eur_pricelist(cls):
        """A euro pricelist for the tests' sales orders. Not made for every test class: a
        new pricelist changes what the shop offers the tours' customers."""
        return cls.env["product.pricelist"].create(
            {"name": "Klarna EUR", "currency_id": cls.currency_euro.id}
        )

    @classmethod
    def _tax(cls, name, amount, **values):
        return cls.env["account.tax"].create(
            {"name": name, "amount_type": "percent", "amount": amount, **values}
        )

    def _eur_order(self, price):
        """A sale order of one untaxed product at ``price``, in euros."""
        product = self.env["product.product"].create(
            {"name": "Lamp", "list_price": price, "taxes_id": [(5, 0, 0)]}
        )
        return self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "pricelist_id": self._eur_pricelist().id,
                "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})],
            }
        )
