from odoo import fields, models


class KlarnaBenchFloorRow(models.Model):
    """One raw webhook body: the smallest durable row (an id and a text)."""

    _name = "klarna.bench.floor.row"
    _description = "Klarna Bench Durable Floor Row"
    _log_access = False

    body = fields.Text()
