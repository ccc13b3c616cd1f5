import logging

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

from .. import compat, const
from .. import utils as klarna_utils
from ..klarna.signature import DEFAULT_MAX_AGE

_logger = logging.getLogger(__name__)


class _SecretCache:
    """Decrypted signing keys by ciphertext: a key is decrypted once per worker, and
    any change of a key changes its ciphertext, so nothing stale is ever served."""

    MAX_ENTRIES = 256

    def __init__(self):
        self._plain = {}

    def get(self, env, ciphertext):
        plain = self._plain.get(ciphertext)
        if plain is None:
            if len(self._plain) >= self.MAX_ENTRIES:
                self._plain.clear()
            plain = self._plain[ciphertext] = klarna_utils.decrypt_secret(env, ciphertext)
        return plain


_secrets = _SecretCache()


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
        domain=[("code", "=", const.PROVIDER_CODE)],
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

    _key_id_unique = compat.Constraint(
        "UNIQUE(provider_id, key_id)",
        "Klarna: a signing key with this id already exists for this provider; "
        "deactivate or edit that one instead.",
    )

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
        self._klarna_clear_webhook_config()
        if missing := keys.filtered(lambda k: not k.secret_encrypted):
            raise ValidationError(
                self.env._(
                    "Klarna: enter the signing secret of key %(keys)s.",
                    keys=", ".join(missing.mapped("key_id")),
                )
            )
        return keys

    def write(self, vals):
        self._klarna_clear_webhook_config()
        return super().write(vals)

    def unlink(self):
        self._klarna_clear_webhook_config()
        return super().unlink()

    @api.model
    @tools.ormcache()
    def _klarna_webhook_config(self):
        """What the webhook route reads on every delivery, from Odoo's cache:
        ``(keys, max_age, allowed_ips, trusted_proxies)``, the keys being
        ``((provider id, provider state, key id, encrypted secret or None), ...)`` for
        the usable Klarna providers, enabled ones first.

        A change of a key, of a Klarna provider's state or of a system parameter clears
        it in every worker (Odoo's cache signalling), so the hot path runs no query.
        """
        self.env.cr.execute(
            """
            SELECT p.id, p.state, k.key_id, k.secret_encrypted
              FROM payment_provider p
         LEFT JOIN payment_klarna_signing_key k
                ON k.provider_id = p.id AND k.active AND k.secret_encrypted IS NOT NULL
             WHERE p.code = 'klarna' AND p.state != 'disabled'
          ORDER BY p.state = 'enabled' DESC, p.id
            """
        )
        keys = tuple(self.env.cr.fetchall())
        params = self.env["ir.config_parameter"].sudo()
        return (
            keys,
            self._klarna_max_age(params.get_param(const.WEBHOOK_MAX_AGE_PARAM)),
            params.get_param(const.WEBHOOK_ALLOWED_IPS_PARAM) or "",
            params.get_param(const.WEBHOOK_TRUSTED_PROXIES_PARAM) or "",
        )

    @api.model
    def _klarna_max_age(self, value):
        """The signed-timestamp window in seconds (0: unchecked); a bad value keeps the default."""
        if not value:
            return DEFAULT_MAX_AGE
        try:
            max_age = int(value)
        except ValueError:
            max_age = -1
        if max_age < 0:
            _logger.warning(
                "Klarna webhook: %s must be a number of seconds; using %s",
                const.WEBHOOK_MAX_AGE_PARAM,
                DEFAULT_MAX_AGE,
            )
            return DEFAULT_MAX_AGE
        return max_age

    @api.model
    def _klarna_clear_webhook_config(self):
        self.env.registry.clear_cache()

    @api.model
    def _klarna_webhook_key_sets(self, key_rows):
        """The active keys of each usable Klarna provider, enabled ones first, for
        :func:`..klarna.webhook_guard.verify`; secrets are decrypted once per worker.

        :param key_rows: the keys of :meth:`_klarna_webhook_config`
        :return: ``[(provider id, {key id: secret}), ...]``
        :rtype: list
        """
        key_sets = {}
        for provider_id, _state, key_id, ciphertext in key_rows:
            if key_id:
                key_sets.setdefault(provider_id, {})[key_id] = _secrets.get(self.env, ciphertext)
        return list(key_sets.items())
