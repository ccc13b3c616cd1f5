"""The SQL queries of each checkout and order-management step do not grow with the cart.

Issue 16's target, as a test so that a regression fails CI: every step is counted on a sales
order of 10 and of 100 lines (taxed products, some discounted, a delivery fee) with Klarna
mocked at the client boundary, and the larger cart may cost only ``SLACK`` more queries.

Decisions:

* Each step runs once on a small cart first, so the registry's caches (access rules, ormcache)
  are as warm for both sizes; the record cache is emptied before every counted call, so the
  count includes reading the cart and a per-line read shows as growth.
* The count includes the writes the step makes (flushed before the count stops).
* No time is asserted; the counts are logged for the bench's report.
"""

import logging
from itertools import count
from unittest.mock import patch

from odoo.fields import Command
from odoo.tests import tagged

from odoo.addons.payment_klarna import compat
from odoo.addons.payment_klarna.klarna.client import KlarnaClient
from odoo.addons.payment_klarna.klarna.money import to_minor
from odoo.addons.payment_klarna.klarna.results import (
    PaymentMethodCategory,
    PaymentSession,
    PlacedOrder,
)
from odoo.addons.payment_klarna.tests.test_order_management import (
    KlarnaManagementCommon,
    capture,
    klarna_order,
)

_logger = logging.getLogger(__name__)

WARM = 3
SIZES = (10, 100)
SLACK = 3  # queries the 100-line cart may cost above the 10-line one
TOKEN = "0b1d9815-165e-42e2-8867-35bc03789e00"


class KlarnaQueryCountCommon(KlarnaManagementCommon):
    """Carts of any size, and :meth:`assert_flat` to count a step on 10 and 100 lines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tax_6 = cls.env["account.tax"].create(
            {"name": "VAT 6%", "amount_type": "percent", "amount": 6}
        )
        cls.products = cls.env["product.product"].create(
            [
                {
                    "name": f"Item {index}",
                    "default_code": f"ITEM-{index:03}",
                    "type": "service" if index % 7 == 3 else "consu",
                    "list_price": 10.0 + index,
                    "invoice_policy": "order",
                    "taxes_id": [Command.set((cls.tax_6 if index % 3 else cls.tax_21).ids)],
                }
                for index in range(max(SIZES))
            ]
        )
        fee = cls.env["product.product"].create(
            {"name": "Express", "type": "service", "taxes_id": [Command.set(cls.tax_21.ids)]}
        )
        cls.carrier = cls.env["delivery.carrier"].create(
            {"name": "Express", "product_id": fee.id, "fixed_price": 4.95}
        )
        cls.serial = count(1)

    def _cart(self, size):
        """A confirmed sales order of ``size`` product lines (every fifth discounted) and a
        delivery fee."""
        order = self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "pricelist_id": self.pricelist_eur.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": 1 + index % 3,
                            "price_unit": product.list_price,
                            "discount": 10.0 if index % 5 == 0 else 0.0,
                        }
                    )
                    for index, product in enumerate(self.products[:size])
                ],
            }
        )
        order.set_delivery_line(self.carrier, 4.95)
        order.action_confirm()
        return order

    def _tx(self, order, **values):
        return self._create_transaction(
            "direct",
            reference=f"{order.name}-{next(self.serial)}",
            amount=order.amount_total,
            sale_order_ids=[Command.set(order.ids)],
            **values,
        )

    def _queries(self, step, *args):
        self.env.flush_all()
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        step(*args)
        self.env.flush_all()
        return self.env.cr.sql_log_count - before

    def assert_flat(self, name, prepare, step):
        """``step(*prepare(size))`` costs as many queries for 100 lines as for 10, within
        ``SLACK``; ``prepare`` is not counted."""
        step(*prepare(WARM))
        counts = {size: self._queries(step, *prepare(size)) for size in SIZES}
        _logger.info("Klarna queries of %s: %s", name, counts)
        small, large = (counts[size] for size in SIZES)
        self.assertLessEqual(
            large,
            small + SLACK,
            f"{name}: {small} queries for {SIZES[0]} lines, {large} for {SIZES[1]}",
        )

    def _authorized(self, size, half):
        """An authorized transaction of a cart, the lines to capture and their amount."""
        order = self._cart(size)
        tx = self._tx(order, state="authorized", klarna_order_id=f"order-{next(self.serial)}")
        lines = order.order_line
        if half:
            lines = lines[: len(lines) // 2]
            amount = sum(to_minor(line.price_total) for line in lines)
        else:  # the lines' own totals miss it by a rounding difference when taxes round globally
            amount = to_minor(order.amount_total)
        return [tx, lines, amount]

    def _capture(self, tx, lines, amount):
        held = klarna_order(to_minor(tx.amount))
        with (
            patch.object(KlarnaClient, "get_order", return_value=held),
            patch.object(KlarnaClient, "capture", return_value="capture-1") as call,
        ):
            compat.capture(tx.with_context(klarna_capture_line_ids=lines.ids), amount / 100)
        self.assertEqual(len(call.call_args.kwargs["order_lines"]), len(lines))

    def _captured(self, size, half):
        """A captured transaction, its paid invoice and a posted credit note of all or half
        the invoice's lines."""
        order = self._cart(size)
        tx = self._tx(
            order,
            state="done",
            klarna_order_id=f"order-{next(self.serial)}",
            klarna_capture_id="capture-1",
        )
        invoice = order._create_invoices()
        invoice.action_post()
        tx.invoice_ids = invoice
        tx._create_payment()  # what account_payment's post-processing does
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "Returned"})
        )
        credit_note = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        if half:
            lines = credit_note.invoice_line_ids
            lines[len(lines) // 2 :].unlink()
        credit_note.action_post()
        return [tx, credit_note]

    def _refund(self, tx, credit_note):
        total = to_minor(tx.amount)
        held = klarna_order(total, "CAPTURED", [capture("capture-1", total)])
        with (
            patch.object(KlarnaClient, "get_order", return_value=held),
            patch.object(KlarnaClient, "refund", return_value="refund-1") as call,
        ):
            compat.refund(tx, credit_note.amount_total)
        sent = call.call_args.kwargs
        self.assertEqual(sent["description"], credit_note.name)
        self.assertEqual(len(sent["order_lines"]), len(credit_note.invoice_line_ids))


@tagged("post_install", "-at_install")
class TestKlarnaQueryCounts(KlarnaQueryCountCommon):
    # === CHECKOUT === #

    def test_order_payload(self):
        self.assert_flat(
            "order payload",
            lambda size: [self._tx(self._cart(size))],
            lambda tx: tx._klarna_order_payload(),
        )

    def test_widget_session(self):
        answer = PaymentSession(
            "sess-1", "client-token", (PaymentMethodCategory("pay_later", None, None, None),)
        )
        with patch.object(KlarnaClient, "create_session", return_value=answer):
            self.assert_flat(
                "widget session",
                lambda size: [self._cart(size), f"192.0.2.{next(self.serial)}"],
                lambda order, address: self.klarna._klarna_open_widget_session(
                    "klarna", address, document=order
                ),
            )

    def test_prepare(self):
        with patch.object(KlarnaClient, "update_session"):
            self.assert_flat(
                "prepare",
                lambda size: [self._tx(self._cart(size)), f"sess-{next(self.serial)}"],
                lambda tx, session_id: tx._klarna_attach_session(session_id),
            )

    def test_place_order(self):
        def prepare(size):
            tx = self._tx(self._cart(size), klarna_session_id=f"sess-{next(self.serial)}")
            placed = PlacedOrder(f"order-{next(self.serial)}", "ACCEPTED", None, None)
            return [tx, placed]

        def place(tx, placed):
            with patch.object(KlarnaClient, "create_order", return_value=placed):
                self.assertTrue(tx._klarna_place_order(TOKEN, "browser"))

        self.assert_flat("place order", prepare, place)

    # === ORDER MANAGEMENT === #

    def test_capture_whole(self):
        self.assert_flat(
            "capture of the whole", lambda size: self._authorized(size, False), self._capture
        )

    def test_capture_half(self):
        self.assert_flat(
            "capture of half the lines", lambda size: self._authorized(size, True), self._capture
        )

    def test_refund_whole(self):
        self.assert_flat(
            "refund of the whole", lambda size: self._captured(size, False), self._refund
        )

    def test_refund_half(self):
        self.assert_flat(
            "refund of half the lines", lambda size: self._captured(size, True), self._refund
        )


@tagged("post_install", "-at_install")
class TestGloballyRoundedTaxes(KlarnaQueryCountCommon):
    """Odoo 19 rounds taxes globally by default: a 100-line document's lines then add up to
    a rounding difference off its total, and Klarna still gets them, meeting the total."""

    def setUp(self):
        super().setUp()
        self.env.company.tax_calculation_rounding_method = "round_globally"

    def _assert_lines_miss_the_total(self, document, lines):
        self.assertNotEqual(
            sum(to_minor(line.price_total) for line in lines), to_minor(document.amount_total)
        )

    def test_a_whole_capture_sends_every_line(self):
        tx, lines, amount = self._authorized(100, False)
        self._assert_lines_miss_the_total(tx.sale_order_ids, lines)
        self._capture(tx, lines, amount)

    def test_a_credit_note_refund_sends_every_line(self):
        tx, credit_note = self._captured(100, False)
        self._assert_lines_miss_the_total(credit_note, credit_note.invoice_line_ids)
        self._refund(tx, credit_note)
