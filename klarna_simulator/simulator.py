"""The simulator as a Python object: start/stop, state, faults and test controls."""

import dataclasses
import threading

from . import ledger, notifications, ordermanagement, payments
from .clock import Clock
from .config import Config
from .faults import Faults
from .outbox import Outbox
from .server import Server
from .state import OPEN_STATUSES, State
from .timing import Timing


class Simulator:
    """A local, strict Klarna over real HTTP.

    ``with Simulator(username=..., password=..., port=0) as sim:`` serves on
    ``sim.url`` until the block ends. Keyword settings are those of
    :class:`klarna_simulator.config.Config` (``webhook_url``, ``signing_keys``,
    ``webhook_scheme``, ``fraud_status``, ``retry_delay``, ``max_attempts``...);
    ``faults`` is a list of fault rule dicts (see :mod:`klarna_simulator.faults`).
    ``secrets_file`` receives every secret it saw when it stops or is reset (see
    :mod:`klarna_simulator.ledger`; default: ``$KLARNA_SIMULATOR_SECRETS_FILE``).
    """

    def __init__(
        self,
        username="sim_user",
        password="sim_pass",  # noqa: S107 - the simulator's well-known demo credentials
        *,
        host="127.0.0.1",
        port=0,
        faults=(),
        clock=None,
        secrets_file=None,
        **settings,
    ):
        self.config = Config(username=username, password=password, **settings)
        self.state = State()
        self.timing = Timing()
        self.clock = clock or Clock()
        self.faults = Faults(faults)
        self.outbox = Outbox(self.state, self.faults, self.config, self.clock)
        self.host = host
        self.port = port
        self.secrets_file = secrets_file
        self._server = None
        self._thread = None

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self):
        self._server = Server(self)
        self.port = self._server.server_address[1]
        self.outbox.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="klarna-sim-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self):
        self.faults.release_all()  # held requests go on, so the server can stop
        ledger.record(self, self.secrets_file)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None
        self.outbox.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def reset(self):
        """Forget everything (sessions, orders, deliveries, faults, clock offset); keep config."""
        ledger.record(self, self.secrets_file)
        self.outbox.clear()
        self.faults.clear()
        self.clock.reset()
        self.state.reset()
        self.timing.reset()

    def wait_idle(self, timeout=10.0):
        """Wait until every queued callback/webhook went out (retries included)."""
        return self.outbox.wait_idle(timeout)

    def configure(self, **changes):
        with self.state.lock:
            self.config.update(changes)

    def public_config(self):
        """The config without secrets (passwords, signing secrets)."""
        data = dataclasses.asdict(self.config)
        data.pop("password")
        data["signing_keys"] = list(self.config.signing_keys)
        return data

    # Test controls: what a customer, Klarna's risk team or time would do.

    def authorize(self, session_id, payment_method_category=None, data=None):
        """Approve a session as the widget's Approve button does; returns the token."""
        with self.state.lock:
            session = payments.live_session(self, session_id)
            category = payment_method_category or session.categories[0]
            return payments.authorize(self, session, category, data).token

    def expire_session(self, session_id):
        with self.state.lock:
            payments.live_session(self, session_id).expires_at = self.clock.now()

    def expire_authorization(self, token):
        with self.state.lock:
            payments.usable_authorization(self, token).expires_at = self.clock.now()

    def expire_order(self, order_id):
        """Let the order's authorization lapse now."""
        with self.state.lock:
            order = ordermanagement.find_order(self, order_id)
            if order.status not in OPEN_STATUSES:
                raise ValueError(f"order is {order.status}; only open authorizations expire")
            order.expires_at = self.clock.now()
            return ordermanagement.find_order(self, order_id)

    def resolve_fraud(self, order_id, decision):
        """ACCEPTED / REJECTED a pending order, or STOPPED an accepted one; notifies."""
        with self.state.lock:
            return ordermanagement.resolve_fraud(self, order_id, decision)

    def set_payment_status(self, order_id, payment_status):
        """Pay-now payment status change (UNPAID, PAID, CLOSED) and its webhook."""
        if payment_status not in ("UNPAID", "PAID", "CLOSED"):
            raise ValueError("payment_status must be UNPAID, PAID or CLOSED")
        with self.state.lock:
            order = ordermanagement.find_order(self, order_id)
            if payment_status == "CLOSED":
                ordermanagement.close_payment(self, order)
            return notifications.emit_payment_status(self, order, payment_status)

    def send_webhook(self, event_type, order_id=None, payload=None):
        """Emit any webhook; without a payload, one describing the order is built."""
        if not isinstance(event_type, str) or not event_type:
            raise ValueError("event_type is required")
        if payload is not None and not isinstance(payload, dict):
            raise ValueError("payload must be an object")
        with self.state.lock:
            if payload is None:
                if order_id is None:
                    raise ValueError("give an order_id or a payload")
                order = ordermanagement.find_order(self, order_id)
                if event_type == "non_guaranteed_payment.updated":
                    order.payment_status = order.payment_status or "UNPAID"
                    payload = notifications.payment_status_payload(self, order)
                else:
                    payload = {"order_id": order.order_id, "status": order.status}
            return notifications.emit_webhook(self, event_type, payload)
