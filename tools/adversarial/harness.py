"""What every adversarial suite needs: a throwaway copy of the test database, Odoo shells
and a prefork Odoo server on it, the simulator, and a record of the secrets used.

Test classes run in one rolled-back transaction; these suites attack a real server
(separate processes, committed data), as ``tools/race_check.py`` does. Every process
they start ends with the suite, and all traffic stays on 127.0.0.1.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[2]
SIM_USER = "adversarial_user"  # the simulator's, not secrets
MARKER = "ADVERSARIAL-RESULT "
# Set on SIGTERM: a long suite stops sending, checks what it sent and reports that count.
STOP = threading.Event()
PROVIDER_SETUP = """
provider = env.ref("payment_klarna.payment_provider_klarna")
provider.write({{
    "state": "test", "klarna_api_username": {user!r}, "klarna_api_password": {password!r},
    "klarna_base_url": {sim_url!r}, "klarna_capture_policy": "manual",
}})
provider.payment_method_ids.active = True
env["payment.klarna.signing.key"].create(
    {{"provider_id": provider.id, "key_id": {key_id!r}, "secret": {signing_secret!r}}}
)
env["ir.config_parameter"].set_param("web.base.url", {odoo_url!r})
# Only the payment jobs run in this copy: the cron worker is there for them.
env["ir.cron"].search([
    ("model_id.model", "not in", ["payment.transaction", "payment.klarna.event"]),
]).active = False
partner = env["res.partner"].create({{
    "name": "Ada Adversary", "email": {email!r}, "phone": {phone!r}, "street": {street!r},
    "zip": "10115", "city": "Berlin", "country_id": env.ref("base.de").id,
}})
"""
# After PROVIDER_SETUP: the partner's transactions, their Klarna sessions and approvals.
TRANSACTION_SETUP = """
import json, urllib.request
client = provider._klarna_get_client()


# A draft 49.99 EUR transaction of the partner and a new Klarna session for it.
def klarna_transaction(reference, method):
    tx = env["payment.transaction"].create({{
        "provider_id": provider.id, "payment_method_id": method.id,
        "reference": reference, "amount": 49.99,
        "currency_id": env.ref("base.EUR").id, "partner_id": partner.id,
        "operation": "online_direct",
    }})
    return tx, client.create_session(tx._klarna_order_payload())


# The customer approves the session in the simulator: Klarna's authorization token.
def approve(session_id, body=b"{{}}"):
    request = urllib.request.Request(
        "{sim_url}/_sim/sessions/%s/authorize" % session_id, data=body,
        headers={{"Content-Type": "application/json"}},
    )
    return json.load(urllib.request.urlopen(request))["authorization_token"]
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def result_of(text):
    """The JSON a shell script printed after :data:`MARKER`."""
    return json.loads(text.split(MARKER, 1)[1].splitlines()[0])


class Secrets:
    """Values that must never reach a log, gathered while the suites run (one a line)."""

    def __init__(self, path):
        self.path = Path(path)

    def add(self, *values):
        with self.path.open("a", encoding="utf-8") as out:
            for value in values:
                if isinstance(value, str) and value.strip() and "\n" not in value:
                    out.write(value + "\n")


class Odoo:
    """A copy of ``template_db`` named after the suite, with shells and a server on it."""

    def __init__(self, odoo_bin, conf, template_db, suite, log_dir):
        self.odoo_bin, self.conf = str(odoo_bin), str(conf)
        self.db = f"{template_db}_adv_{suite}_{os.getpid()}"
        self.suite = suite
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.server_log = self.log_dir / f"{suite}-server.log"
        self._shells = 0
        subprocess.run(["dropdb", "--if-exists", self.db], check=True, capture_output=True)
        subprocess.run(["createdb", "-T", template_db, self.db], check=True, capture_output=True)

    # --- processes
    def shell_command(self):
        return [sys.executable, self.odoo_bin, "shell", "-c", self.conf, "-d", self.db, "--no-http"]

    def shell_log(self):
        self._shells += 1
        return self.log_dir / f"{self.suite}-shell-{self._shells}.log"

    def shell(self, script, timeout=900):
        """Run ``script`` in ``odoo-bin shell``; the JSON it printed after MARKER."""
        log = self.shell_log()
        proc = subprocess.run(
            self.shell_command(),
            input=script,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        # The result line carries the fixtures' tokens: it is the harness's, not a log line.
        kept = "".join(line for line in proc.stdout.splitlines(True) if MARKER not in line)
        log.write_text(kept + proc.stderr)
        if MARKER not in proc.stdout:
            raise RuntimeError(
                f"{self.suite}: the Odoo shell failed, see {log}:\n{proc.stderr[-3000:]}"
            )
        return result_of(proc.stdout)

    def setup(self, script, sim, password, signing_key, customer, timeout=900, **values):
        """Run a suite's ``script`` (PROVIDER_SETUP first) against ``sim``: what it printed.

        :param tuple signing_key: the webhook signing key's id and secret
        :param tuple customer: the partner's email, phone and street
        :param values: the script's own placeholders
        """
        (key_id, signing_secret), (email, phone, street) = signing_key, customer
        return self.shell(
            script.format(
                user=SIM_USER,
                password=password,
                sim_url=sim.url,
                odoo_url=self.url,
                key_id=key_id,
                signing_secret=signing_secret,
                email=email,
                phone=phone,
                street=street,
                marker=MARKER,
                **values,
            ),
            timeout=timeout,
        )

    def spawn_shell(self, script):
        """An ``odoo-bin shell`` running ``script`` in the background (a worker to kill)."""
        log = self.shell_log().open("w")
        proc = subprocess.Popen(
            self.shell_command(),
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        proc.stdin.write(script)
        proc.stdin.close()
        return proc

    def start_server(self, workers=2, cron_threads=1):
        self.server = subprocess.Popen(
            [
                sys.executable,
                self.odoo_bin,
                "-c",
                self.conf,
                "-d",
                self.db,
                "--db-filter",
                f"^{self.db}$",
                "--http-interface",
                "127.0.0.1",
                f"--http-port={self.port}",
                f"--gevent-port={free_port()}",  # several servers may run at once
                f"--workers={workers}",
                f"--max-cron-threads={cron_threads}",
                "--limit-time-real=300",
                "--limit-request=100000",
                f"--logfile={self.server_log}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/web/login", timeout=5),  # noqa: S310
            ):
                return
            if self.server.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"{self.suite}: Odoo did not start, see {self.server_log}")

    def stop_server(self):
        if self.server and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.server = None

    def drop(self):
        self.stop_server()
        subprocess.run(
            ["dropdb", "--if-exists", "--force", self.db], check=False, capture_output=True
        )

    # --- database
    def connect(self):
        conn = psycopg2.connect(dbname=self.db)
        conn.autocommit = True
        return conn

    def query(self, sql, *args):
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cr:
            cr.execute(sql, args)
            return cr.fetchall()

    def execute(self, sql, *args):
        """Run one statement and commit it, for the next Odoo process to see."""
        with contextlib.closing(self.connect()) as conn, conn, conn.cursor() as cr:
            cr.execute(sql, args)

    def tracebacks(self):
        """Tracebacks the server logged (each one a request or a job that blew up)."""
        if not self.server_log.exists():
            return 0
        return self.server_log.read_text(errors="replace").count("Traceback (most recent call")


def env_secret_key():
    return os.environ.get("PAYMENT_KLARNA_SECRET_KEYS", "")
