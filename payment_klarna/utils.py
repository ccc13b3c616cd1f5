"""Small helpers between Odoo records and the plain-Python ``klarna`` package."""

import os
import threading

from odoo import modules, release
from odoo.exceptions import UserError
from odoo.tools import config

from . import const
from .klarna.config import KlarnaConfig
from .klarna.secret_box import SecretBox, SecretBoxError


def get_secret_box(env):
    """The box for the provider's secrets, keyed from outside the database.

    :raise UserError: when no valid key is configured, so nothing is stored in clear.
    """
    setting = config.get(const.SECRET_KEYS_CONFIG_OPTION) or os.environ.get(
        const.SECRET_KEYS_ENV_VARIABLE
    )
    try:
        return SecretBox.from_setting(setting)
    except SecretBoxError as error:
        raise UserError(
            env._(
                "Klarna: secrets cannot be stored encrypted: %(reason)s. Set the "
                "'%(option)s' server option or the %(variable)s environment variable to a "
                'key made with `python3 -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`, then restart Odoo.',
                reason=error,
                option=const.SECRET_KEYS_CONFIG_OPTION,
                variable=const.SECRET_KEYS_ENV_VARIABLE,
            )
        ) from error


def encrypt_secret(env, plaintext):
    return get_secret_box(env).encrypt(plaintext) if plaintext else False


def decrypt_secret(env, stored):
    if not stored:
        return ""
    try:
        return get_secret_box(env).decrypt(stored)
    except SecretBoxError as error:
        raise UserError(
            env._("Klarna: a stored secret cannot be read: %(error)s.", error=error)
        ) from error


def build_client_config(provider):
    """The client configuration of a provider; its password is decrypted here only."""
    provider.ensure_one()
    return KlarnaConfig(
        username=provider.klarna_api_username or "",
        password=provider.sudo()._klarna_get_api_password(),
        region=provider.klarna_region,
        test_mode=provider.state == "test",
        base_url=provider.sudo().klarna_base_url or None,
        odoo_version=release.version,
    )


def in_test():
    """Whether this runs inside a test: Odoo's runner and pytest-odoo run each test in one
    transaction that is rolled back, so jobs must not commit their steps there, and the
    operation log is written in the caller's transaction."""
    # Odoo 19 sets only ``current_test`` (pytest-odoo too); Odoo 18's runner sets it, while
    # pytest-odoo on 18 marks the thread instead.
    return bool(
        modules.module.current_test or getattr(threading.current_thread(), "testing", False)
    )
