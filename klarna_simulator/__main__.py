"""``python -m klarna_simulator``: serve until Ctrl-C or SIGTERM, then exit cleanly."""

import argparse
import json
import signal
import sys
import threading

from .config import FRAUD_STATUSES, Config
from .signing import SCHEMES
from .simulator import Simulator


def _signing_key(text):
    key_id, sep, secret = text.partition("=")
    if not sep or not key_id or not secret:
        raise argparse.ArgumentTypeError("expected ID=SECRET")
    return key_id, secret


def _fault(text):
    try:
        rule = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if not isinstance(rule, dict):
        raise argparse.ArgumentTypeError("a fault is a JSON object")
    return rule


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m klarna_simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback by default)")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--username", default="sim_user")
    parser.add_argument("--password", default="sim_pass")
    parser.add_argument("--webhook-url", help="where signed webhooks go")
    parser.add_argument(
        "--signing-key",
        type=_signing_key,
        action="append",
        default=[],
        metavar="ID=SECRET",
        help="webhook signing key (repeatable; the last one signs)",
    )
    parser.add_argument("--webhook-scheme", choices=SCHEMES, default="payload-signature")
    parser.add_argument("--fraud-status", choices=FRAUD_STATUSES, default="ACCEPTED")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="first retry delay (s)")
    parser.add_argument("--max-attempts", type=int, default=3, help="delivery attempts in all")
    parser.add_argument(
        "--client-id",
        default=Config.client_id,
        help="the public client identifier On-Site Messaging and Express Checkout must use",
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="JSON",
        help='fault rule, e.g. \'{"kind": "error", "path": "/ordermanagement/", "count": 2}\'',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        sim = Simulator(
            args.username,
            args.password,
            host=args.host,
            port=args.port,
            faults=args.fault,
            webhook_url=args.webhook_url,
            signing_keys=dict(args.signing_key),
            webhook_scheme=args.webhook_scheme,
            fraud_status=args.fraud_status,
            retry_delay=args.retry_delay,
            max_attempts=args.max_attempts,
            client_id=args.client_id,
        )
    except (ValueError, TypeError) as error:
        sys.exit(f"klarna_simulator: {error}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        sim.start()
    except OSError as error:
        sys.exit(f"klarna_simulator: cannot listen on {args.host}:{args.port}: {error}")
    print(f"Klarna simulator listening on {sim.url}", flush=True)
    while not stop.wait(0.5):
        pass
    sim.stop()


if __name__ == "__main__":
    main()
