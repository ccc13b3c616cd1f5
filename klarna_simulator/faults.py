"""Fault injection: rules that make the simulator misbehave the way networks and Klarna do.

Inbound kinds act on Klarna API requests matched by method and path prefix
(control endpoints under ``/_sim/`` are never affected):

- ``latency``: sleep ``delay`` seconds, then answer normally;
- ``error``: answer ``status`` (default 503) ``TEMPORARILY_UNAVAILABLE``, doing nothing;
- ``rate_limit``: answer 429 ``TOO_MANY_REQUESTS`` with ``Retry-After: retry_after``;
- ``drop``: close the connection without an answer, ``when`` ``before`` (nothing
  done) or ``after`` (the effect happened, the answer is lost);
- ``hang``: hold the request, ``when`` ``before`` acting or ``after`` acting, until
  the test calls ``rule.release()`` (or ``delay`` seconds passed, when non-zero),
  then close the connection without an answer. ``rule.reached`` is set once the
  request is held: a crash test waits for it, then kills the caller at that step.

Outbound kinds act on deliveries whose ``target`` is ``callback`` (authorization
callback), ``webhook`` or ``notification`` (legacy fraud notification); no
target means any:

- ``lose``: never send it (recorded with error ``lost``);
- ``duplicate``: send it twice (same body, same ``event_id``);
- ``reorder``: hold it until the next delivery of the same kind went out.

``count`` is how many times the rule fires (``None``: forever).
"""

import dataclasses
import threading

INBOUND_KINDS = frozenset({"latency", "error", "rate_limit", "drop", "hang"})
OUTBOUND_KINDS = frozenset({"lose", "duplicate", "reorder"})
TARGETS = frozenset({"callback", "webhook", "notification"})


@dataclasses.dataclass
class FaultRule:
    kind: str
    method: str | None = None
    path: str = "/"
    target: str | None = None
    count: int | None = 1
    delay: float = 0.0
    status: int = 503
    retry_after: int = 1
    when: str = "before"

    def __post_init__(self):
        if self.kind not in INBOUND_KINDS | OUTBOUND_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.target is not None and self.target not in TARGETS:
            raise ValueError(f"unknown fault target {self.target!r}; use one of {sorted(TARGETS)}")
        if self.count is not None and (type(self.count) is not int or self.count < 1):
            raise ValueError("count must be a positive integer or None")
        if self.when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        if self.kind == "error" and not 500 <= self.status <= 599:
            raise ValueError("an error fault answers a 5xx status")
        if not isinstance(self.delay, (int, float)) or self.delay < 0:
            raise ValueError("delay must be a non-negative number of seconds")
        if self.method is not None:
            self.method = self.method.upper()
        # Not dataclass fields: ``dataclasses.asdict`` (the control API) cannot copy events.
        self.reached = threading.Event()
        self._released = threading.Event()

    def release(self):
        """Let a held (``hang``) request go on: its connection is then closed unanswered."""
        self._released.set()

    def hold(self):
        """Hold the calling request until released (or ``delay`` seconds, when non-zero)."""
        self.reached.set()
        self._released.wait(self.delay or None)

    @property
    def inbound(self):
        return self.kind in INBOUND_KINDS

    def matches_request(self, method, path):
        return (
            self.inbound
            and (self.method is None or self.method == method)
            and path.startswith(self.path)
        )

    def matches_delivery(self, target):
        return not self.inbound and (self.target is None or self.target == target)


class Faults:
    """The live rule list (``sim.faults``), safe to change while requests run."""

    def __init__(self, rules=()):
        self._lock = threading.Lock()
        self._rules = []
        self._held = []  # used-up hang rules whose request may still be held
        for rule in rules:
            self.add(**rule) if isinstance(rule, dict) else self.add_rule(rule)

    def add(self, kind, **options):
        """Add a rule (keyword arguments as :class:`FaultRule`); returns it."""
        return self.add_rule(FaultRule(kind, **options))

    def add_rule(self, rule):
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self):
        """Forget every rule; requests a ``hang`` rule holds go on (closed unanswered)."""
        self.release_all()
        with self._lock:
            self._rules.clear()

    def release_all(self):
        """Let every request held by a ``hang`` rule go on, used up or not."""
        with self._lock:
            self._held.extend(self._rules)
            held, self._held = self._held, []
        for rule in held:
            rule.release()

    @property
    def rules(self):
        with self._lock:
            return list(self._rules)

    def take_for_request(self, method, path):
        return self._take(lambda rule: rule.matches_request(method, path))

    def take_for_delivery(self, target):
        return self._take(lambda rule: rule.matches_delivery(target))

    def _take(self, predicate):
        """Fire every matching rule once, dropping those that are used up."""
        with self._lock:
            fired = [rule for rule in self._rules if predicate(rule)]
            for rule in fired:
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count == 0:
                        self._rules.remove(rule)
                        if rule.kind == "hang":
                            self._held.append(rule)
            return fired
