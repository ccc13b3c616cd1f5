"""The whole bench in one run: ``make bench`` (``make bench QUICK=1`` for development).

``python3 bench/run.py [--quick] [--out DIR]``. One throwaway database with everything
every section needs (``harness.MODULES``) and one server command (``harness.Server``),
then the sections, each a function returning ``{key, title, markdown, plot?, figures}``:

1. checkout (``checkout_bench.run``) and order management
   (``order_management_bench.run``), on one prefork server with no cron worker, Klarna
   being the simulator (latency 0, its own time subtracted);
2. mapping alone (``mapping_bench.run(quick)``, pure);
3. the webhook sections (``webhook_sections``: bench/webhook_bench.py's flow, on the
   same database and configuration).

It writes ``RESULTS.md`` (one part per section, the command, the machine, the date) and
``bench.png`` (time and queries against cart lines, ours beside the floor) to ``bench/``,
or to ``~/.cache/payment-klarna/bench/quick/`` with ``--quick`` so that development runs
never overwrite the committed results. The plot is drawn by matplotlib in the bench's own
virtual environment (``~/.cache/payment-klarna/venv-bench-<hash>``, created here with the
system ``python3 -m venv``), never the addon's or Odoo's.
"""

import argparse
import contextlib
import datetime
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import checkout_bench
import harness
import order_management_bench
import shop
from harness import CACHE, ROOT, WORKERS, Server, odoo_paths, prepare_database, say, write_config

BENCH = ROOT / "bench"
QUICK_OUT = CACHE / "bench" / "quick"
PLOT_REQUIREMENTS = ("matplotlib",)


def server_sections(python, src, config, workdir, quick):
    """Checkout and order management: one simulator, one server, one set of carts."""
    carts = {**checkout_bench.carts_needed(quick), **order_management_bench.carts_needed(quick)}
    sizes = sorted({size for by_size in carts.values() for size in by_size})
    log_path = workdir / "server.log"
    with shop.Simulator() as simulator:
        data = shop.setup(python, src, config, simulator, sizes, carts)
        with open(log_path, "w") as log, Server(python, src, config, log, cron_workers=0) as server:
            probe = shop.Probe(server, log_path, simulator)
            try:
                sections = [
                    checkout_bench.run(probe, simulator, data, quick),
                    order_management_bench.run(probe, simulator, data, quick),
                ]
            finally:
                probe.close()
    log_text = log_path.read_text()
    if "Traceback" in log_text:
        first = log_text[log_text.index("Traceback") :][:3000]
        raise SystemExit(f"the server logged a traceback; the first:\n{first}")
    return sections


def mapping_section(quick):
    """The pure mapping bench (bench/mapping_bench.py): its table and figures."""
    import mapping_bench

    found = mapping_bench.run(quick)
    return {
        "key": "mapping",
        "title": "Mapping alone (issue 16 §3)",
        "markdown": mapping_bench.table(found),
        "figures": found,
    }


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


def webhook_sections(quick):
    """Hook: the webhook sections (bench/webhook_bench.py, issue 16 §4 to §6).

    When that module has ``sections(quick)`` returning a list of sections (the dicts this
    orchestrator takes), it is called. Until then its whole ``main()`` flow runs here: on
    this run's configuration and database (``harness.shared``), with the same server
    command, its printed report kept as the section's text; ``--quick`` sets its sizes
    (``webhook_bench.QUICK``) first. It runs last: its setup rewrites the Klarna provider.
    """
    import webhook_bench

    if hasattr(webhook_bench, "sections"):
        return webhook_bench.sections(quick)
    if quick:
        webhook_bench.apply_quick()
    printed = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, printed)):
        webhook_bench.main()
    report = "\n".join(
        line for line in printed.getvalue().splitlines() if not line.startswith("[bench]")
    ).strip()
    return [
        {
            "key": "webhook",
            "title": "Webhook (issue 16 §4 to §6)",
            "markdown": "`bench/webhook_bench.py` (see its docstring for what it measures), "
            "run on this run's database and server command.\n\n" + report,
        }
    ]


def bench_python():
    """The bench's own virtual environment with matplotlib; None when it cannot be made."""
    key = hashlib.sha256(f"{sys.version}|{' '.join(PLOT_REQUIREMENTS)}".encode()).hexdigest()
    venv = CACHE / f"venv-bench-{key[:12]}"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    say(f"creating the bench's plotting environment {venv}")
    try:
        harness.run(["python3", "-m", "venv", str(venv)])
        harness.run(
            [str(python), "-m", "pip", "install", "--quiet", *PLOT_REQUIREMENTS],
            stdout=subprocess.DEVNULL,
        )
    except (subprocess.CalledProcessError, OSError) as error:
        say(f"no plot: the plotting environment could not be made ({error})")
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return python


def plot(sections, workdir, out):
    series = [section["plot"] for section in sections if section.get("plot")]
    if not series:
        return None
    python = bench_python()
    if python is None:
        return None
    data = workdir / "plot.json"
    data.write_text(json.dumps(series))
    target = out / "bench.png"
    harness.run([str(python), str(BENCH / "plot.py"), str(data), str(target)])
    return target


def results(sections, machine, command, started, png):
    lines = [
        "# Benchmarks",
        "",
        f"Command: `{command}` (see `bench/run.py`); run of "
        f"{started:%Y-%m-%d %H:%M} UTC. Machine: {machine['nproc']} CPUs ({machine['cpu']}), "
        f"{machine['ram']} RAM, PostgreSQL {machine['postgresql']}, Python {machine['python']}; "
        f"Odoo 18 in prefork mode ({WORKERS} HTTP workers, loopback, the same flags for every "
        "route: `harness.Server`), one throwaway database with "
        f"{', '.join(harness.MODULES)} (no demo data).",
    ]
    if png:
        lines += ["", f"![time and queries against cart lines]({png.name})"]
    for section in sections:
        lines += ["", f"## {section['title']}", "", section["markdown"]]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run (about a minute)")
    parser.add_argument("--out", type=Path, help="where RESULTS.md and bench.png go")
    args = parser.parse_args()
    out = args.out or (QUICK_OUT if args.quick else BENCH)
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    python, src = odoo_paths()
    workdir = Path(tempfile.mkdtemp(prefix="klarna-bench-run-"))
    try:
        config = write_config(workdir, src)
        prepare_database(python, src, config, workdir)
        harness.shared.update(config=config, database=True)
        sections = server_sections(python, src, config, workdir, args.quick)
        sections.append(mapping_section(args.quick))
        sections += webhook_sections(args.quick)
        machine = harness.machine()
        png = plot(sections, workdir, out)
        command = "make bench QUICK=1" if args.quick else "make bench"
        (out / "RESULTS.md").write_text(results(sections, machine, command, started, png))
        say(f"results: {out / 'RESULTS.md'}" + (f", plot: {png}" if png else ""))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
