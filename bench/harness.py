"""What every section of the bench shares: the database, the server, the meters, the load.

One throwaway database (``BENCH_DB``, ``klarna_bench`` by default) holds everything every
section needs (``MODULES``, no demo data), and one server command (``Server``) serves
every route with the same flags, the werkzeug access log at INFO included: its line gives
each request's SQL query count, query time and remaining time. Building that database
takes minutes, so a template of it is kept between runs, named after a hash of the
addons' sources and of Odoo's: an unchanged tree only copies it (seconds).

Environment: ``ODOO_PYTHON``, ``ODOO_SRC`` (found with ``python3 -m tools.devenv env``
when unset), ``BENCH_ADDONS`` (the folder holding payment_klarna; the repository by
default), ``BENCH_DB``, ``BENCH_PORT``.
"""

import base64
import hashlib
import http.client
import json
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "payment-klarna"
DB = os.environ.get("BENCH_DB", "klarna_bench")
if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", DB):
    raise SystemExit("BENCH_DB: lower-case letters, digits and underscores only")
PORT = int(os.environ.get("BENCH_PORT", "18199"))  # and the next one (--gevent-port)
WORKERS = 4
FLOOR_ADDONS = ROOT / "bench" / "addons"
MODULES = ("payment_klarna", "payment_stripe", "payment_demo", "website_sale", "klarna_bench_floor")

# The orchestrator's run (bench/run.py) shares its configuration and database with every
# section, the webhook flow included: ``write_config`` and ``prepare_database`` then
# return what it prepared instead of starting over.
shared = {}


def run(argv, **kwargs):
    """Run one of the bench's own commands (PostgreSQL tools by absolute path)."""
    if not os.path.isabs(argv[0]):
        argv = [shutil.which(argv[0]) or argv[0], *argv[1:]]
    return subprocess.run(argv, check=True, **kwargs)  # noqa: S603 - fixed argv lists


def say(message):
    print(f"[bench] {message}", flush=True)


def odoo_paths():
    python, src = os.environ.get("ODOO_PYTHON"), os.environ.get("ODOO_SRC")
    if not (python and src):
        found = json.loads(
            run(
                [sys.executable, "-m", "tools.devenv", "env"],
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout
        )
        python, src = python or found["venv_python"], src or found["odoo_src"]
    return python, Path(src)


def addons_path(src):
    addons = os.environ.get("BENCH_ADDONS", str(ROOT))
    return f"{src / 'addons'},{src / 'odoo' / 'addons'},{addons},{FLOOR_ADDONS}"


def write_config(workdir, src):
    if "config" in shared:
        return shared["config"]
    # The encryption key of the bench's secrets is kept with the template: a database
    # copied from it must decrypt what was encrypted when it was built.
    key_file = CACHE / "bench" / "secret-key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
        key_file.chmod(0o600)
    config = workdir / "odoo.conf"
    config.write_text(
        "[options]\n"
        f"addons_path = {addons_path(src)}\n"
        f"data_dir = {workdir / 'data'}\n"
        f"payment_klarna_secret_keys = {key_file.read_text().strip()}\n"
        # One database by name, as a single-shop server runs: with a dbfilter every
        # request lists the databases through a new connection to ``postgres``.
        f"db_name = {DB}\nlist_db = False\n"
    )
    return config


def source_hash(src):
    """What the template depends on: our addons' files, Odoo's tree, the module list."""
    digest = hashlib.sha256(" ".join(MODULES).encode())
    addons = Path(os.environ.get("BENCH_ADDONS", str(ROOT)))
    for folder in (addons / "payment_klarna", FLOOR_ADDONS):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(folder.parent)).encode())
                digest.update(path.read_bytes())
    head = src / ".git" / "HEAD"
    digest.update(str(src).encode() + (head.read_bytes() if head.exists() else b""))
    return digest.hexdigest()[:12]


def psql(query, db=DB):
    out = run(["psql", "-d", db, "-At", "-c", query], capture_output=True, text=True)
    return out.stdout.strip()


def prepare_database(python, src, config, workdir):
    """The bench's database with every module of ``MODULES``, from the template if current.

    The template ``<DB>_tmpl_<hash>`` and its filestore are built once per source tree
    (a few minutes); older templates of this bench are dropped.
    """
    if shared.get("database"):
        return
    template = f"{DB}_tmpl_{source_hash(src)}"
    filestore = CACHE / "bench" / "filestore" / template
    # DB is checked above and the hash is hexadecimal: nothing here comes from outside.
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{template}'", db="postgres")  # noqa: S608
    if not exists:
        for old in psql(
            f"SELECT datname FROM pg_database WHERE datname LIKE '{DB}_tmpl_%'",  # noqa: S608
            db="postgres",
        ).split():
            run(["dropdb", "--if-exists", old])
            shutil.rmtree(filestore.parent / old, ignore_errors=True)
        say(f"building the template {template}: {', '.join(MODULES)} (a few minutes)")
        build = Path(tempfile.mkdtemp(prefix="klarna-bench-tmpl-"))
        try:
            build_config = config.read_text().replace(
                f"data_dir = {workdir / 'data'}", f"data_dir = {build}"
            )
            build_config = build_config.replace(f"db_name = {DB}", f"db_name = {template}")
            (build / "odoo.conf").write_text(build_config)
            with open(workdir / "install.log", "w") as log:
                run(
                    [
                        python,
                        str(src / "odoo-bin"),
                        "-c",
                        str(build / "odoo.conf"),
                        "-d",
                        template,
                        "-i",
                        ",".join(MODULES),
                        "--without-demo=all",
                        "--stop-after-init",
                        "--log-level=warn",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            filestore.parent.mkdir(parents=True, exist_ok=True)
            if (build / "filestore" / template).exists():
                shutil.copytree(build / "filestore" / template, filestore)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    run(["dropdb", "--if-exists", DB])
    run(["createdb", "-T", template, DB])
    target = workdir / "data" / "filestore" / DB
    shutil.rmtree(target, ignore_errors=True)
    if filestore.exists():
        shutil.copytree(filestore, target)


def odoo_shell(python, src, config, script, marker="BENCH-SETUP-OK"):
    """Run ``script`` in ``odoo-bin shell`` on the bench's database; it prints ``marker``."""
    done = run(
        [
            python,
            str(src / "odoo-bin"),
            "shell",
            "-c",
            str(config),
            "-d",
            DB,
            "--no-http",
            "--log-level=warn",
        ],
        input=script,
        capture_output=True,
        text=True,
    )
    if marker not in done.stdout:
        raise SystemExit(f"setup failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Server:
    """The one server command of the bench: prefork, loopback, the same flags for every
    route; only the number of cron workers differs between sections."""

    def __init__(self, python, src, config, log, cron_workers):
        self.cmd = [
            python,
            str(src / "odoo-bin"),
            "-c",
            str(config),
            "-d",
            DB,
            f"--workers={WORKERS}",
            f"--max-cron-threads={cron_workers}",
            f"--http-port={PORT}",
            # The bus's long-polling process, which the prefork server spawns: on the next
            # port, never on 8072, where another Odoo of the machine may listen.
            f"--gevent-port={PORT + 1}",
            "--http-interface=127.0.0.1",
            "--limit-time-real=600",
            "--limit-time-cpu=600",
            "--limit-request=100000",
            "--log-level=warn",
            "--log-handler=odoo.service.model:INFO",
            # One access line per request: its query count, query time and remaining time.
            "--log-handler=werkzeug:INFO",
        ]
        self.log = log
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv list
            self.cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, _ = request("GET", "/web/health", b"", {})
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit("Odoo did not start; see the server log")

    def __exit__(self, *exc):
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class CpuMeter:
    """CPU time of the Odoo server's processes and of PostgreSQL's, from ``/proc``.

    Throughput on a shared VM drifts from minute to minute; the CPU a request costs
    the server (Odoo workers, PostgreSQL backends, WAL writer) drifts much less, and
    tells where a difference comes from. ``None`` where ``/proc`` is missing.
    """

    def __init__(self, server_pid):
        self.group = server_pid  # the server runs in its own session and process group
        self.tick = os.sysconf("SC_CLK_TCK")

    def snapshot(self):
        """``{pid: (kind, ticks)}`` of the server's and PostgreSQL's processes."""
        if not os.path.isdir("/proc/self"):
            return None
        used = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    command = cmdline.read()
            except OSError:
                continue  # the process ended meanwhile
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            if int(fields[2]) == self.group:
                used[pid] = ("odoo", ticks)
            elif command.startswith(b"postgres"):
                used[pid] = ("postgres", ticks)
        return used

    def since(self, before):
        """Milliseconds of CPU per kind since ``before`` (a process started since counts whole)."""
        after = self.snapshot()
        if before is None or after is None:
            return None
        spent = {"odoo": 0, "postgres": 0}
        for pid, (kind, ticks) in after.items():
            spent[kind] += ticks - before.get(pid, (kind, 0))[1]
        return {kind: ticks / self.tick * 1000 for kind, ticks in spent.items()}


def request(method, path, body, headers, port=None):
    """One request on a new connection: the latency includes the connect."""
    connection = http.client.HTTPConnection("127.0.0.1", port or PORT, timeout=600)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, data
    finally:
        connection.close()


def run_load(requests, senders, meter=None):
    """Send prepared ``(path, body, headers)`` requests from ``senders`` threads."""
    work = queue.Queue()
    for item in requests:
        work.put(item)
    latencies, statuses, lock = [], {}, threading.Lock()

    def sender():
        while True:
            try:
                path, body, headers = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            status, _ = request("POST", path, body, headers)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    cpu_before = meter.snapshot() if meter else None
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "latencies": latencies,
        "throughput": len(latencies) / wall,
        "statuses": statuses,
        "cpu_ms": meter.since(cpu_before) if meter else None,
    }


def summarise(runs):
    """One route over its rounds: pooled latencies, the median round's throughput."""
    latencies = sorted(latency for run in runs for latency in run["latencies"])
    statuses = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    rates = [run["throughput"] for run in runs]
    cpu = [run["cpu_ms"] for run in runs]
    cpu_per_request = (
        {key: sum(c[key] for c in cpu) / len(latencies) for key in cpu[0]} if all(cpu) else None
    )
    return {
        "requests": len(latencies),
        "throughput": statistics.median(rates),
        "rates": rates,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "statuses": statuses,
        "cpu": cpu_per_request,
    }


def paired(a, b):
    """Median over the rounds of ``a``'s req/s over ``b``'s in the same round: the two ran
    minutes apart at most, so the machine's drift cancels out of each ratio."""
    return statistics.median(x / y for x, y in zip(a["rates"], b["rates"], strict=True))


# === PER-REQUEST FIGURES FROM ODOO'S ACCESS LOG === #

ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ '
    r"(?P<queries>\d+) (?P<query_time>\d+\.\d+) (?P<remaining>\d+\.\d+)"
)


def parse_access_line(line):
    """``{method, path, status, queries, query_s, other_s}`` of a werkzeug access line that
    carries Odoo's figures (``... "POST /x HTTP/1.1" 200 - 33 0.012 0.063``), else None."""
    found = ACCESS_LINE.search(line)
    if not found:
        return None
    return {
        "method": found["method"],
        "path": found["path"],
        "status": int(found["status"]),
        "queries": int(found["queries"]),
        "query_s": float(found["query_time"]),
        "other_s": float(found["remaining"]),
    }


class AccessLog:
    """Reads the server log forward and finds the access line of the request just sent.

    The bench's sections that read it send one request at a time, so the next line for
    the path is that request's: werkzeug writes it once the answer is sent.
    """

    def __init__(self, path):
        self.file = open(path)  # noqa: SIM115 - closed by close()
        self.file.seek(0, os.SEEK_END)
        self.pending = ""

    def close(self):
        self.file.close()

    def skip(self):
        """Forget what was logged so far."""
        self.file.seek(0, os.SEEK_END)
        self.pending = ""

    def wait_for(self, path, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pending += self.file.read()
            *lines, self.pending = self.pending.split("\n")
            for line in lines:
                found = parse_access_line(line)
                if found and found["path"] == path:
                    return found
            time.sleep(0.002)
        raise SystemExit(f"no access line for {path} in the server log")


def jsonrpc(path, params, cookie=None, port=None):
    """POST an Odoo JSON route; its result, or SystemExit with Odoo's error."""
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}).encode()
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    status, data = request("POST", path, body, headers, port=port)
    answer = json.loads(data) if data else {}
    if status != 200 or "error" in answer:
        error = answer.get("error", {})
        message = error.get("data", {}).get("message") or error or data[:500]
        raise SystemExit(f"{path} answered {status}: {message}")
    return answer.get("result")  # Odoo leaves out a null result


def machine():
    """nproc, CPU model, RAM, PostgreSQL and Python versions, for the results' header."""
    model = ram = "unknown"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"model name\s*:\s*(.*)", cpuinfo).group(1).strip()
        kib = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram": ram,
        "postgresql": psql("SHOW server_version"),
        "python": platform.python_version(),
    }
