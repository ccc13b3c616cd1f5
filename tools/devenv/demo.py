"""``make demo``: an offline demo shop paying with Klarna through the local simulator.

The database ``klarna_demo_<major>`` of the chosen series (``klarna_demo_18``:
website_sale with its demo products) is created on the first run and reused
afterwards (an addon it lacks, such as a newer payment_klarna_website, is installed
then); the provider is (re)pointed at the simulator on every run, so a changed port
still works. The shop shows Klarna's On-Site Messaging and Express Checkout button: the
demo company is in the US and sells in USD, a Klarna market.
"""

import base64
import contextlib
import secrets
import subprocess
import time
import urllib.request

from .config import CACHE, ROOT, say
from .suites import not_installed, odoo_conf, odoo_env

SIM_USER, SIM_PASSWORD = "demo_user", "demo_password"  # the simulator's own, not secrets
SIGNING_KEY_ID = "demo-key"
SIM_CLIENT_ID = "klarna_test_client_simulator"  # the public client id the simulator accepts
ADDONS = ["payment_klarna", "website_sale", "payment_klarna_website"]

CONFIGURE = """
provider = env.ref("payment_klarna.payment_provider_klarna")
provider.write({{
    "state": "test",
    "is_published": True,
    "klarna_api_username": {user!r},
    "klarna_api_password": {password!r},
    "klarna_base_url": {sim_url!r},
    "klarna_region": "eu",
    # One write: the client id is required once messaging or the express button is on.
    "klarna_client_id": {client_id!r},
    "klarna_osm_product": True,
    "klarna_osm_cart": True,
    "klarna_osm_checkout": True,
    "klarna_osm_top_strip": True,
    "allow_express_checkout": True,
}})
key = provider.klarna_signing_key_ids.filtered(lambda k: k.key_id == {key_id!r})
values = {{"provider_id": provider.id, "key_id": {key_id!r}, "secret": {key_secret!r}}}
key.write(values) if key else env["payment.klarna.signing.key"].create(values)
env["ir.config_parameter"].set_param("web.base.url", {odoo_url!r})
env["ir.config_parameter"].set_param("web.base.url.freeze", "True")
env.cr.commit()
print("demo: provider configured")
# Every scheduled job of a new (or long-stopped) database is overdue: left alone, the first
# trigger (Klarna's callback wakes the recovery job) runs them all at once, racing the
# customer's first payment. Run them now, before the shop opens (the simulator is up).
env["ir.cron"]._process_jobs(env.cr.dbname)
print("demo: overdue scheduled jobs run")
"""


def _cached_secret(cache, name, factory):
    """A value kept in the cache across runs (never in the repository or the database)."""
    path = cache / name
    if not path.exists():
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key():
    """A Fernet key (what ``Fernet.generate_key`` makes) without needing cryptography here."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _db_exists(pgenv, db):
    probe = ["psql", "-d", db, "-Atc", "SELECT 1"]
    return subprocess.run(probe, env=pgenv, capture_output=True, check=False).returncode == 0


def _wait_for(url, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):  # noqa: S310
            return True
        time.sleep(0.5)
    return False


def run_demo(vpython, odoo_src, series, pgenv, args):
    # One database per series: an Odoo of another series would not open it.
    db = args.db or f"klarna_demo_{series.split('.')[0]}"
    workdir = CACHE / f"demo-{db}"
    workdir.mkdir(parents=True, exist_ok=True)
    odoo_url = f"http://127.0.0.1:{args.port}"
    sim_url = f"http://127.0.0.1:{args.simulator_port}"
    encryption_key = _cached_secret(CACHE, "demo-encryption-key", _fernet_key)
    signing_secret = _cached_secret(CACHE, "demo-signing-secret", lambda: secrets.token_hex(32))
    conf = odoo_conf(odoo_src, db, pgenv, workdir, {"payment_klarna_secret_keys": encryption_key})
    env = odoo_env(odoo_src, pgenv)
    odoo_bin = [str(vpython), str(odoo_src / "odoo-bin")]
    options = ["-c", str(conf), "-d", db]
    new = not _db_exists(pgenv, db)
    missing = ADDONS if new else [entry.split()[0] for entry in not_installed(db, pgenv, ADDONS)]
    if missing:
        if new:
            say(f"creating the demo database {db} (website_sale with demo products; a few"
                " minutes)")  # fmt: skip
        else:
            say(f"installing {', '.join(missing)} on the demo database {db}")
        install = ["-i", ",".join(missing), "--stop-after-init"]
        if new and int(series.split(".")[0]) >= 19:  # Odoo 19 loads demo data only when asked
            install.append("--with-demo")
        proc = subprocess.run([*odoo_bin, *options, *install], env=env, check=False)
        # Odoo 19 leaves an addon it cannot install uninstalled, and still exits 0.
        missing = not_installed(db, pgenv, ADDONS)
        if proc.returncode or missing:
            say(f"the demo did not install on Odoo {series} ({', '.join(missing) or 'see above'})")
            if new:
                subprocess.run(["dropdb", "--if-exists", db], env=pgenv, check=False)
                say(f"{db} is dropped, the next run starts afresh")
            return 1
    script = CONFIGURE.format(
        user=SIM_USER,
        password=SIM_PASSWORD,
        sim_url=sim_url,
        key_id=SIGNING_KEY_ID,
        key_secret=signing_secret,
        client_id=SIM_CLIENT_ID,
        odoo_url=odoo_url,
    )
    simulator = subprocess.Popen(
        [str(vpython), "-m", "klarna_simulator", "--host", "127.0.0.1",
         "--port", str(args.simulator_port), "--username", SIM_USER, "--password", SIM_PASSWORD,
         "--client-id", SIM_CLIENT_ID,
         "--webhook-url", f"{odoo_url}/klarna/webhook",
         "--signing-key", f"{SIGNING_KEY_ID}={signing_secret}"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    odoo = None
    try:
        subprocess.run([*odoo_bin, "shell", *options, "--no-http"], input=script, text=True,
                       env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        odoo = subprocess.Popen(
            [*odoo_bin, *options, "--http-interface", "127.0.0.1", "--http-port", str(args.port)],
            env=env,
        )
        if not _wait_for(f"{odoo_url}/web/login") or not _wait_for(f"{sim_url}/kp/lib/v1/api.js"):
            say("the demo did not come up; see the output above")
            return 1
        print(
            f"\n  Demo shop:   {odoo_url}/shop\n  Backend:     {odoo_url}/odoo (login admin, "
            f"password admin)\n  Klarna simulator: {sim_url}\n  Ctrl-C stops both.\n",
            flush=True,
        )
        while odoo.poll() is None and simulator.poll() is None:
            time.sleep(1)
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        started = [proc for proc in (odoo, simulator) if proc]
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
