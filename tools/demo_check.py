"""The first-run check: ``make demo`` comes up and a customer pays in Chromium, cleanly.

It starts the real demo (``python3 -m tools.devenv demo``: Odoo and the Klarna simulator) on a
throwaway database and free ports, then drives headless Chromium: a guest first sees Klarna's
On-Site Messaging and Express Checkout button, as the simulator's stand-in scripts draw them,
on a demo product's page and in the cart (payment_klarna_website); then, with a new session,
the tour ``payment_klarna_demo_checkout``: the guest buys a demo product, pays with Klarna,
approves in the simulator's widget and waits for the order confirmation page. Unlike test mode,
the demo renders the order confirmation mail's PDF during post-processing, so a missing
``wkhtmltopdf`` (or any other post-processing error) fails here.

It fails on a tour failure, an error toast or dialog, a browser error, and any ERROR line
in the demo's server log of the payment (from the customer's first page until Klarna's
deliveries and Odoo's jobs are done); that log excerpt is printed. Run it with the Odoo
virtual environment's Python (``websocket-client``) and the Odoo source as argument (the
demo then runs on that source's series; without it, on the default series' source); the
``PG*`` settings pass through to ``make demo``. Exit status 0 and the
line ``demo check: ok`` mean it passed.

``--screenshots DIR`` also saves the product page and the cart with Klarna's messaging and
button, the checkout's Klarna widget, the confirmation page and the provider form's two tabs
as PNG files (the Apps pages' and the README's screenshots come from here).
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket
from devenv.config import CACHE, read_ci_config
from devenv.provision import source_series, source_variable
from devenv.suites import free_port

ROOT = Path(__file__).resolve().parent.parent
TOUR = "payment_klarna_demo_checkout"
# Toasts and dialogs that report an error (the public pages show a UserError as a toast).
ERROR_UI = ".o_notification:has(.bg-danger, .bg-warning), .o_error_dialog"
WATCH_ERRORS = f"""
new MutationObserver(() => {{
    for (const node of document.querySelectorAll({json.dumps(ERROR_UI)})) {{
        if (!node.dataset.reported) {{
            node.dataset.reported = "1";
            console.error("error shown to the customer: " + node.innerText.replace(/\\s+/g, " "));
        }}
    }}
}}).observe(document, {{childList: true, subtree: true}});
"""
# What the simulator's stand-in scripts draw in payment_klarna_website's placeholders: the
# message in the page's <klarna-placement> and the Express Checkout button.
PRODUCT_KLARNA = (".o_klarna_osm_product .klarna-sim-osm",
                  ".o_klarna_express[data-provider-id] .klarna-sim-express-button")  # fmt: skip
CART_KLARNA = (".o_klarna_osm_order .klarna-sim-osm",
               ".o_klarna_express[data-provider-id] .klarna-sim-express-button")  # fmt: skip
# Odoo's log lines: "<date> <time> <pid> <LEVEL> <db> <logger>: <message>".
BAD_LOG_LINE = re.compile(r"^\S+ \S+ \d+ (ERROR|CRITICAL) |^Traceback ")


class CheckFailed(Exception):
    pass


class Chromium:
    """Headless Chromium over the DevTools protocol: just what the check needs."""

    def __init__(self, profile):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise CheckFailed("chromium is not installed (make test installs it as root)")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             "--window-size=1366,900", "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = Path(profile) / "DevToolsActivePort"
        self._until(port_file.exists, 30, "Chromium did not open its DevTools port")
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
            (page,) = [t for t in json.load(answer) if t["type"] == "page"]
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True)
        self.ws.settimeout(1)
        self.next_id, self.errors, self.logs = 0, [], []
        self.call("Runtime.enable")
        self.call("Page.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH_ERRORS)

    @staticmethod
    def _until(predicate, seconds, message):
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise CheckFailed(message)
            time.sleep(0.2)

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            message = self._receive()
            if message and message.get("id") == self.next_id:
                if "error" in message:
                    raise CheckFailed(f"{method}: {message['error']}")
                return message["result"]
        raise CheckFailed(f"Chromium did not answer {method}")

    def _receive(self):
        try:
            message = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in
                            params["args"])  # fmt: skip
            (self.errors if params["type"] == "error" else self.logs).append(text)
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description", details["text"]))
        return message

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)  # fmt: skip
        return result["result"].get("value")

    def probe(self, expression):
        """``evaluate`` for polling: a page being replaced answers no, not an error."""
        try:
            return self.evaluate(expression)
        except CheckFailed:
            return False

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def wait(self, predicate, seconds, message):
        """Read browser events until ``predicate()`` holds; a browser error ends it early."""
        deadline = time.monotonic() + seconds
        while not predicate():
            if self.errors:
                raise CheckFailed("browser error: " + "\n".join(self.errors))
            if time.monotonic() > deadline:
                raise CheckFailed(message)
            self._receive()

    def wait_for(self, selector, seconds=60):
        probe = f"!!document.querySelector({json.dumps(selector)})"
        self.wait(lambda: self.probe(probe), seconds, f"{selector} never appeared")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=20)


class Demo:
    """``make demo`` on a throwaway database, its output in a log file."""

    def __init__(self, workdir, series):
        self.db = f"klarna_demo_check_{os.getpid()}"
        self.port, sim_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim_url = f"http://127.0.0.1:{sim_port}"
        self.log = Path(workdir) / "demo.log"
        self._out = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.devenv", "demo", "--series", series, "--db", self.db,
             "--port", str(self.port), "--simulator-port", str(sim_port)],
            cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def text(self):
        return self.log.read_text(errors="replace")

    def warm_up(self):
        """Render the shop and its asset bundles once, one request at a time, before the
        customer comes: a browser asks for them in parallel, and CPython 3.11.7 can fail
        parsing in parallel threads ("AST constructor recursion depth mismatch"), a fault
        of the interpreter, not of the payment being checked."""
        with urllib.request.urlopen(f"{self.url}/shop", timeout=300) as answer:  # noqa: S310
            page = answer.read().decode(errors="replace")
        for path in dict.fromkeys(re.findall(r'(?:href|src)="(/web/assets/[^"]+)"', page)):
            with urllib.request.urlopen(f"{self.url}{path}", timeout=300) as answer:  # noqa: S310
                answer.read()

    def wait_ready(self, seconds):
        deadline = time.monotonic() + seconds
        while "Demo shop:" not in self.text():
            if self.proc.poll() is not None:
                raise CheckFailed("make demo stopped before the shop came up:\n" + self.tail())
            if time.monotonic() > deadline:
                raise CheckFailed("make demo did not come up in time:\n" + self.tail())
            time.sleep(1)

    def settle(self):
        """Let the payment's aftermath finish: Klarna's deliveries, then Odoo's jobs.

        The simulator says when its callbacks and webhooks are delivered; Odoo's
        triggered jobs are done when its log has been quiet for a few seconds.
        """
        request = urllib.request.Request(  # noqa: S310 (our own http:// URL)
            f"{self.sim_url}/_sim/wait-idle", data=b'{"timeout": 60}',
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=90) as answer:  # noqa: S310
            if not json.load(answer)["idle"]:
                raise CheckFailed("the simulator still had deliveries pending after 60 s")
        deadline, size = time.monotonic() + 120, -1
        while size != self.log.stat().st_size and time.monotonic() < deadline:
            size = self.log.stat().st_size
            time.sleep(3)

    def tail(self, lines=40):
        return "\n".join(self.text().splitlines()[-lines:])

    def stop(self):
        """Ctrl-C, as a user stops it (the demo then stops Odoo and the simulator)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()
        subprocess.run(["dropdb", "--if-exists", self.db], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(CACHE / f"demo-{self.db}", ignore_errors=True)


def storefront(browser, url, shots):
    """A guest sees Klarna's messaging and express button on the page of the product the tour
    buys, puts it in the cart and sees them there; the session is then dropped, so the tour
    starts with an empty cart."""
    browser.navigate(f"{url}/shop?search=Storage%20Box")
    link = ("[...document.querySelectorAll('a[href^=\"/shop/\"]')]"
            ".find((a) => a.textContent.includes('Storage Box'))")  # fmt: skip
    browser.wait(lambda: browser.probe(f"!!{link}"), 60, "the shop never listed Storage Box")
    browser.navigate(browser.evaluate(f"{link}.href"))
    _wait_shows(browser, "/shop/", PRODUCT_KLARNA)
    if shots:
        browser.screenshot(shots / "storefront_product.png")
    browser.evaluate("document.querySelector('#add_to_cart').click()")
    in_cart = "document.querySelector('.my_cart_quantity')?.textContent.trim() === '1'"
    browser.wait(lambda: browser.probe(in_cart), 60, "the product never reached the cart")
    browser.navigate(f"{url}/shop/cart")
    _wait_shows(browser, "/shop/cart", CART_KLARNA)
    if shots:
        browser.screenshot(shots / "storefront_cart.png")
    browser.call("Network.clearBrowserCookies")


def _wait_shows(browser, path, selectors):
    """Wait for the page at ``path`` to show each of ``selectors``."""
    for selector in selectors:
        probe = (f"location.pathname.startsWith({json.dumps(path)})"
                 f" && !!document.querySelector({json.dumps(selector)})")  # fmt: skip
        browser.wait(lambda probe=probe: browser.probe(probe), 60,
                     f"{path} never showed {selector}")  # fmt: skip


def pay_as_customer(browser, url, shots):
    browser.navigate(f"{url}/shop?debug=tests")  # ?debug=tests loads the tours' assets
    ready = f"typeof odoo !== 'undefined' && !!odoo.isTourReady && odoo.isTourReady({TOUR!r})"
    browser.wait(lambda: browser.probe(ready), 120, "the shop never loaded its tours")
    # For screenshots, slow steps leave time to photograph the widget before Pay.
    browser.evaluate(f"odoo.startTour({TOUR!r}, {{stepDelay: {1500 if shots else 0}}})")
    if shots:
        browser.wait_for(".klarna-sim-widget", 300)
        browser.screenshot(shots / "checkout_widget.png")
    browser.wait(
        lambda: any("tour succeeded" in line for line in browser.logs),
        300,
        "the customer never reached the order confirmation page",
    )
    if shots:
        browser.screenshot(shots / "confirmation.png")


def provider_form_screenshot(browser, url, shots):
    browser.navigate(f"{url}/web/login")
    browser.wait_for("input[name='login']")
    browser.evaluate(
        "document.querySelector('input[name=login]').value = 'admin';"
        "document.querySelector('input[name=password]').value = 'admin';"
        "document.querySelector('form.oe_login_form').submit()"
    )
    browser.wait_for(".o_main_navbar")
    action = "payment.action_payment_provider"
    browser.navigate(f"{url}/odoo/action-{action}")
    browser.wait_for(".o_kanban_record")
    browser.evaluate(
        "[...document.querySelectorAll('.o_kanban_record')]"
        ".find((r) => r.innerText.includes('Klarna')).click()"
    )
    browser.wait_for(".o_form_view .o_notebook")
    ready = "!document.querySelector('.o_loading_indicator, .o_blockUI')"
    browser.wait(lambda: browser.probe(ready), 60, "the provider form never finished loading")
    time.sleep(2)  # the form fades in
    browser.screenshot(shots / "provider_form.png")
    browser.evaluate(
        "[...document.querySelectorAll('.o_notebook .nav-link')]"
        ".find((tab) => tab.innerText.trim() === 'Configuration').click()"
    )
    time.sleep(2)
    browser.screenshot(shots / "provider_capture.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("odoo_src", nargs="?", help="the Odoo source make demo runs on")
    parser.add_argument("--screenshots", type=Path, help="save the Apps page's screenshots here")
    args = parser.parse_args(argv)
    series = default = read_ci_config()["odoo_series"][0]
    if args.odoo_src:
        series = source_series(Path(args.odoo_src).resolve()) or default
        os.environ[source_variable(series, default)] = args.odoo_src
    workdir = Path(tempfile.mkdtemp(prefix="klarna-demo-check-"))
    demo, browser = Demo(workdir, series), None
    start = end = None
    try:
        demo.wait_ready(1800)  # the first run creates the database
        demo.warm_up()
        start = len(demo.text())
        browser = Chromium(workdir / "chromium")
        storefront(browser, demo.url, args.screenshots)
        pay_as_customer(browser, demo.url, args.screenshots)
        demo.settle()
        end = len(demo.text())
        if args.screenshots:
            provider_form_screenshot(browser, demo.url, args.screenshots)
        failure = None
    except CheckFailed as exc:
        failure = str(exc)
    finally:
        if browser:
            browser.close()
        demo.stop()
    payment_log = demo.text()[start:end]
    shutil.rmtree(workdir, ignore_errors=True)
    print("demo check: the server log of the payment")
    print(payment_log.rstrip())
    bad = [line for line in payment_log.splitlines() if BAD_LOG_LINE.search(line)]
    if bad and not failure:
        failure = "the server logged errors during the payment:\n" + "\n".join(bad)
    if failure:
        print(f"demo check: FAILED: {failure}")
        return 1
    print("demo check: ok (Klarna on the product page and in the cart; the customer reached the"
          " order confirmation page, no error shown)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
