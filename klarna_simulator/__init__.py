"""A local, strict Klarna for end-to-end tests, the demo shop and benchmarks.

Standard library only, and independent of the addon (it never imports
``klarna``): its own validation is a second opinion on our mapping.

Run ``python -m klarna_simulator --port 8099`` or, in tests::

    with Simulator(username="u", password="p", port=0, retry_delay=0.05) as sim:
        requests.post(f"{sim.url}/payments/v1/sessions", json=cart, auth=("u", "p"))
        sim.state.orders        # order_id -> Order
        sim.faults.add("error", path="/ordermanagement/", count=1)

Magic values: a ``billing_address.email`` containing ``+pending`` or
``+rejected`` gives that fraud status when the order is placed (else
``config.fraud_status``, ACCEPTED by default).

SDK stand-in (``GET /kp/lib/v1/api.js``) selectors: the loaded widget is
``.klarna-sim-widget[data-klarna-sim-category="<category>"]`` inside the
container; ``authorize()`` opens ``#klarna-sim-modal`` with buttons
``#klarna-sim-approve``, ``#klarna-sim-decline`` and ``#klarna-sim-close``. The
hosted page ``/hpp/{id}`` has ``#klarna-sim-hpp-category`` (a select),
``#klarna-sim-hpp-approve``, ``#klarna-sim-hpp-cancel`` and ``#klarna-sim-hpp-fail``.

See README.md beside this file for the control endpoints.
"""

from .simulator import Simulator

__all__ = ["Simulator"]
