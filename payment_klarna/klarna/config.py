"""Connection settings for :class:`klarna.client.KlarnaClient`.

The Odoo provider builds one of these from its fields; keeping it a frozen,
validated value object means a bad setting fails at construction with a message
an admin can act on, before any request is made.
"""

import platform
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from .errors import KlarnaConfigError
from .version import MODULE_VERSION

# (region, test_mode) -> API host.
HOSTS = {
    ("eu", False): "https://api.klarna.com",
    ("eu", True): "https://api.playground.klarna.com",
    ("na", False): "https://api-na.klarna.com",
    ("na", True): "https://api-na.playground.klarna.com",
    ("oc", False): "https://api-oc.klarna.com",
    ("oc", True): "https://api-oc.playground.klarna.com",
}
REGIONS = ("eu", "na", "oc")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_header_safe(value):
    return value.isprintable() and value == value.strip()


@dataclass(frozen=True)
class KlarnaConfig:
    """Credentials, host selection, timeouts and retry budget for one Klarna account.

    ``base_url`` overrides the region/test-mode host (the local simulator).
    ``max_retries`` counts retries after the first attempt; ``max_retry_time``
    bounds the seconds spent before starting another attempt, so a call takes at
    most about ``max_retry_time + connect_timeout + read_timeout``.
    ``lockout_threshold`` consecutive 401s within ``lockout_window`` seconds stop
    all calls with these credentials (see :mod:`klarna.lockout`).
    """

    username: str
    password: str = field(repr=False)
    region: str = "eu"
    test_mode: bool = True
    base_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_retries: int = 3
    max_retry_time: float = 30.0
    odoo_version: str | None = None
    lockout_threshold: int = 3
    lockout_window: float = 600.0

    def __post_init__(self):
        if not isinstance(self.username, str) or not self.username.strip():
            raise KlarnaConfigError("the API username is empty")
        if not _is_header_safe(self.username) or ":" in self.username:
            raise KlarnaConfigError(
                "the API username contains spaces, control characters or a colon"
            )
        if not isinstance(self.password, str) or not self.password:
            raise KlarnaConfigError("the API password is empty")
        if self.region not in REGIONS:
            raise KlarnaConfigError(
                f"unknown region {self.region!r}; expected one of {', '.join(REGIONS)}"
            )
        if not isinstance(self.test_mode, bool):
            raise KlarnaConfigError("test_mode must be True or False")
        if self.base_url is not None:
            self._check_base_url(self.base_url)
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not _is_number(value) or not value > 0:
                raise KlarnaConfigError(f"{name} must be a positive number of seconds")
        if not _is_number(self.max_retry_time) or not self.max_retry_time >= 0:
            raise KlarnaConfigError("max_retry_time must be zero or a positive number of seconds")
        for name, minimum in (("max_retries", 0), ("lockout_threshold", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise KlarnaConfigError(f"{name} must be an integer of at least {minimum}")
        if not _is_number(self.lockout_window) or not self.lockout_window > 0:
            raise KlarnaConfigError("lockout_window must be a positive number of seconds")
        if self.odoo_version is not None and (
            not isinstance(self.odoo_version, str)
            or not self.odoo_version
            or not _is_header_safe(self.odoo_version)
        ):
            raise KlarnaConfigError("odoo_version must be a non-empty printable string")

    @staticmethod
    def _check_base_url(url):
        if not isinstance(url, str):
            raise KlarnaConfigError("the base URL must be text")
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KlarnaConfigError(
                f"the base URL {url!r} must start with http:// or https:// and name a host"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise KlarnaConfigError(
                "the base URL must not carry credentials, a query string or a fragment"
            )

    @property
    def api_url(self):
        """Base URL every path is appended to, without a trailing slash."""
        if self.base_url is not None:
            return self.base_url.strip().rstrip("/")
        return HOSTS[self.region, self.test_mode]

    @property
    def timeout(self):
        """``(connect, read)`` as ``requests`` takes it."""
        return (self.connect_timeout, self.read_timeout)

    @property
    def user_agent(self):
        """Names the module (and Odoo) so Klarna support can identify the integration."""
        product = f"payment_klarna/{MODULE_VERSION}"
        if self.odoo_version:
            product += f" (Odoo/{self.odoo_version})"
        return f"{product} Python/{platform.python_version()} requests/{requests.__version__}"
