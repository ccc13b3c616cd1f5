"""The addon on the Odoo series it is installed on: what ``compat`` switches is in effect.

Both series run these; each assertion holds on either, through the series' own hooks.
"""

from odoo import release
from odoo.tests import tagged

from odoo.addons.payment_klarna import compat, const
from odoo.addons.payment_klarna.tests.common import KlarnaCommon

# Every unique constraint the addons declare, by table and the name both series give it.
UNIQUE_CONSTRAINTS = {
    ("payment_klarna_event", "payment_klarna_event_event_id_unique"): "UNIQUE (event_id)",
    (
        "payment_klarna_operation",
        "payment_klarna_operation_idempotency_key_unique",
    ): "UNIQUE (idempotency_key)",
    (
        "payment_klarna_operation",
        "payment_klarna_operation_klarna_reference_unique",
    ): "UNIQUE (transaction_id, kind, klarna_reference)",
    (
        "payment_klarna_signing_key",
        "payment_klarna_signing_key_key_id_unique",
    ): "UNIQUE (provider_id, key_id)",
    (
        "payment_transaction",
        "payment_transaction_klarna_order_id_unique",
    ): "UNIQUE (klarna_order_id)",
}


@tagged("post_install", "-at_install")
class TestSeries(KlarnaCommon):
    def test_the_series_is_the_running_odoo(self):
        self.assertEqual(compat.SERIES, release.version_info[0])
        self.assertIn(compat.SERIES, (18, 19))

    def test_both_addons_are_installed_with_the_series_version(self):
        modules = self.env["ir.module.module"].search(
            [("name", "in", ("payment_klarna", "payment_klarna_stock"))]
        )
        self.assertEqual(
            {(module.name, module.state, module.latest_version) for module in modules},
            {
                (name, "installed", f"{release.major_version}.1.0.0")
                for name in ("payment_klarna", "payment_klarna_stock")
            },
        )

    def test_the_unique_constraints_exist_in_the_database(self):
        # Odoo 19 ignores `_sql_constraints` without an error: read what PostgreSQL holds.
        self.env.cr.execute(
            """
            SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid)
              FROM pg_constraint con
              JOIN pg_class rel ON rel.oid = con.conrelid
             WHERE con.contype = 'u' AND con.conname = ANY(%s)
            """,
            [[name for _table, name in UNIQUE_CONSTRAINTS]],
        )
        found = {(table, name): definition for table, name, definition in self.env.cr.fetchall()}
        self.assertEqual(found, UNIQUE_CONSTRAINTS)

    def test_the_series_lookup_hook_is_the_one_lookup(self):
        tx = self._create_transaction("direct", reference="series-lookup")
        tx.klarna_order_id = "order-series"
        hook = "_search_by_reference" if compat.SERIES >= 19 else "_get_tx_from_notification_data"
        found = getattr(self.env["payment.transaction"], hook)(
            const.PROVIDER_CODE, {"klarna_order_id": "order-series"}
        )
        self.assertEqual(found, tx)
        self.assertEqual(
            found, self.env["payment.transaction"]._klarna_find_tx({"reference": "series-lookup"})
        )

    def test_the_series_notification_flow_applies_an_outcome(self):
        tx = self._create_transaction("direct", reference="series-flow")
        applied = compat.handle_notification(
            self.env["payment.transaction"],
            const.PROVIDER_CODE,
            {"reference": "series-flow", "outcome": "authorized", "source": "test"},
        )
        self.assertEqual(applied, tx)
        self.assertEqual(tx.state, "authorized")
