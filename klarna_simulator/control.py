"""Control endpoints under ``/_sim/`` (loopback clients only, no Klarna auth).

Thin HTTP wrappers over :class:`klarna_simulator.Simulator` methods; a bad
request answers 400 ``BAD_VALUE`` in Klarna's error format.
"""

import dataclasses

from .errors import KlarnaError
from .faults import FaultRule
from .reply import Reply


def _object(body):
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _call(function, *args, **kwargs):
    """Turn a control mistake (ValueError/TypeError) into Klarna's BAD_VALUE."""
    try:
        return function(*args, **kwargs)
    except (ValueError, TypeError) as error:
        raise KlarnaError(400, "BAD_VALUE", str(error)) from None


def reset(sim, request):
    sim.reset()
    return Reply(204)


def state(sim, request):
    return Reply(200, sim.state.snapshot())


def timing(sim, request):
    """The simulator's own handling time of Klarna API requests (see ``timing``)."""
    return Reply(200, sim.timing.snapshot())


def list_faults(sim, request):
    return Reply(200, [dataclasses.asdict(rule) for rule in sim.faults.rules])


def add_faults(sim, request):
    """Body: one rule object or a list of them (fields of ``FaultRule``)."""
    rules = request.json if isinstance(request.json, list) else [_object(request.json)]
    built = [_call(lambda rule: FaultRule(**_object(rule)), rule) for rule in rules]
    for rule in built:
        sim.faults.add_rule(rule)
    return Reply(201, [dataclasses.asdict(rule) for rule in built])


def clear_faults(sim, request):
    sim.faults.clear()
    return Reply(204)


def read_config(sim, request):
    return Reply(200, sim.public_config())


def update_config(sim, request):
    _call(lambda: sim.configure(**_object(request.json)))
    return Reply(200, sim.public_config())


def clock(sim, request):
    if request.method == "POST":
        _call(sim.clock.advance, _object(request.json).get("advance_seconds"))
    return Reply(200, {"now": sim.clock.now().isoformat()})


def authorize_session(sim, request):
    body = _call(_object, request.json)
    token = _call(
        sim.authorize,
        request.params["session_id"],
        body.get("payment_method_category"),
        body.get("data"),
    )
    return Reply(200, {"authorization_token": token, "session_id": request.params["session_id"]})


def expire_session(sim, request):
    sim.expire_session(request.params["session_id"])
    return Reply(204)


def expire_authorization(sim, request):
    sim.expire_authorization(request.params["token"])
    return Reply(204)


def expire_order(sim, request):
    return Reply(200, _call(sim.expire_order, request.params["order_id"]).to_api())


def resolve_fraud(sim, request):
    decision = _call(_object, request.json).get("decision")
    return Reply(200, _call(sim.resolve_fraud, request.params["order_id"], decision).to_api())


def payment_status(sim, request):
    status = _call(_object, request.json).get("payment_status")
    return Reply(200, _call(sim.set_payment_status, request.params["order_id"], status))


def webhook(sim, request):
    body = _call(_object, request.json)
    event = _call(
        sim.send_webhook, body.get("event_type"), body.get("order_id"), body.get("payload")
    )
    return Reply(200, event)


def wait_idle(sim, request):
    timeout = _call(_object, request.json).get("timeout", 10)
    if not isinstance(timeout, (int, float)) or not 0 <= timeout <= 60:
        raise KlarnaError(400, "BAD_VALUE", "timeout must be 0..60 seconds")
    return Reply(200, {"idle": sim.wait_idle(timeout)})
