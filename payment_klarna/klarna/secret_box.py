"""Encryption at rest for the provider's secrets (API password, webhook signing keys).

Odoo 18 has no encrypted field type, so secrets are stored as Fernet tokens made
with keys that live outside the database (server config or environment).  A
leaked database dump alone therefore reveals no credential.  Rotation follows
``MultiFernet``: the first key encrypts, every listed key still decrypts, and
``rotate`` re-encrypts old tokens with the newest key.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "fernet:"


class SecretBoxError(ValueError):
    """A key is missing or invalid, or a stored secret cannot be decrypted."""


class SecretBox:
    def __init__(self, keys):
        """``keys``: Fernet keys (urlsafe base64 of 32 bytes), newest first."""
        keys = [key.strip() for key in keys if key and key.strip()]
        if not keys:
            raise SecretBoxError("no encryption key is configured")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError) as exc:
            raise SecretBoxError(
                "an encryption key is not a valid Fernet key (32 url-safe base64-encoded bytes)"
            ) from exc

    @classmethod
    def from_setting(cls, setting):
        """Build from a comma- or whitespace-separated setting, newest key first."""
        return cls((setting or "").replace(",", " ").split())

    @staticmethod
    def is_encrypted(value):
        return bool(value) and value.startswith(PREFIX)

    def encrypt(self, plaintext):
        if not isinstance(plaintext, str):
            raise SecretBoxError("only text secrets can be encrypted")
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, stored):
        if not self.is_encrypted(stored):
            raise SecretBoxError("the stored value is not an encrypted secret")
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError(
                "a stored secret cannot be decrypted with the configured keys "
                "(was a key removed before its secrets were rotated?)"
            ) from exc

    def rotate(self, stored):
        """Re-encrypt ``stored`` with the newest key; old keys may be retired afterwards."""
        if not self.is_encrypted(stored):
            raise SecretBoxError("the stored value is not an encrypted secret")
        try:
            return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from exc


def generate_key():
    """A new random key, for the README's setup step and key rotation."""
    return Fernet.generate_key().decode()
