from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .. import utils as klarna_utils


class PaymentKlarnaSigningKey(models.Model):
    """A webhook signing key; several may be active at once so keys can be rotated."""

    _name = "payment.klarna.signing.key"
    _description = "Klarna Webhook Signing Key"
    _order = "provider_id, active desc, id desc"

    provider_id = fields.Many2one(
        comodel_name="payment.provider",
        required=True,
        ondelete="cascade",
        index=True,
        domain=[("code", "=", "klarna")],
    )
    key_id = fields.Char(
        string="Key ID or Version",
        help="The Klarna-Signing-Key-Id of the key, or the v= version of a Payload-Signature.",
        required=True,
    )
    secret = fields.Char(
        string="Signing Secret",
        compute="_compute_secret",
        inverse="_inverse_secret",
        help="Write-only: the saved secret is never shown again.",
    )
    secret_encrypted = fields.Char(string="Encrypted Secret", copy=False, readonly=True)
    secret_set = fields.Boolean(string="Secret Saved", compute="_compute_secret")
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "key_id_unique",
            "UNIQUE(provider_id, key_id)",
            "Klarna: a signing key with this id already exists for this provider; "
            "deactivate or edit that one instead.",
        ),
    ]

    def _compute_secret(self):
        for key in self:
            key.secret = False
            key.secret_set = bool(key.secret_encrypted)

    def _inverse_secret(self):
        for key in self:
            if key.secret:
                key.secret_encrypted = klarna_utils.encrypt_secret(self.env, key.secret)

    @api.constrains("key_id")
    def _check_key_id(self):
        for key in self:
            if not key.key_id.strip() or len(key.key_id) > 128 or any(c in key.key_id for c in ","):
                raise ValidationError(
                    self.env._(
                        "Klarna: the signing key id must be 1 to 128 characters without commas."
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        keys = super().create(vals_list)
        if missing := keys.filtered(lambda k: not k.secret_encrypted):
            raise ValidationError(
                self.env._(
                    "Klarna: enter the signing secret of key %(keys)s.",
                    keys=", ".join(missing.mapped("key_id")),
                )
            )
        return keys

    def _get_secret(self):
        """Decrypt the secret, for the webhook verification only."""
        self.ensure_one()
        return klarna_utils.decrypt_secret(self.env, self.secret_encrypted)
