"""PostgreSQL: a server the current user can create databases on."""

import os
import shutil
import subprocess
from pathlib import Path

from .config import CACHE, SetupError, run, say


def postgres_env(version):
    """Connection settings for a server we can create databases on.

    The ``PG*`` variables or the local socket come first (a server of another major
    version than ``.odoo-ci.yml`` declares is used, with a warning); failing both, a
    throwaway cluster of the declared version, when installed, is started (socket only).
    """
    env = dict(os.environ)
    if _pg_ok(env):
        show = ["psql", "-d", env.get("PGDATABASE", "postgres"), "-Atc", "SHOW server_version"]
        found = run(show, env=env, capture_output=True, text=True, check=False).stdout
        found = found.split(".")[0]
        if found != str(version):
            say(f"warning: PostgreSQL {found} answers; .odoo-ci.yml declares {version}")
        return env, None
    # initdb refuses root; as root the cluster belongs to `nobody`, which cannot enter
    # root's home, so it lives under /var/tmp instead of the cache.
    cluster = CACHE / "pgcluster" if os.geteuid() else Path("/var/tmp/payment-klarna-pgcluster")  # noqa: S108
    bindir = Path(f"/usr/lib/postgresql/{version}/bin")
    if not bindir.is_dir():
        bindir = Path(run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip())
    initdb, pg_ctl = _pg_tool(bindir, "initdb"), _pg_tool(bindir, "pg_ctl")
    user = os.environ.get("USER", "odoo") if os.geteuid() else "nobody"
    sock = cluster / "run"
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    if not (cluster / "data" / "PG_VERSION").exists():
        say(f"starting a throwaway PostgreSQL cluster in {cluster}")
        sock.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(cluster, user)
            shutil.chown(sock, user)
        run(
            [*as_user, initdb, "-D", str(cluster / "data"), "-U", "odoo", "-A", "trust"],
            stdout=subprocess.DEVNULL,
        )
    run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(cluster / "data"),
            "-l",
            str(cluster / "log"),
            "-w",
            "-o",
            f"-c listen_addresses='' -c unix_socket_directories='{sock}' -p 54329",
            "start",
        ],
        stdout=subprocess.DEVNULL,
    )
    env.update(PGHOST=str(sock), PGPORT="54329", PGUSER="odoo")
    if not _pg_ok(env):
        raise SetupError(f"the throwaway PostgreSQL in {cluster} did not answer")
    return env, [*as_user, pg_ctl, "-D", str(cluster / "data"), "-m", "fast", "stop"]


def _pg_tool(bindir, name):
    return str(bindir / name) if (bindir / name).exists() else shutil.which(name) or name


def _pg_ok(env):
    if env.get("PGUSER", os.environ.get("USER", "root")) == "postgres" or (
        "PGUSER" not in env and current_user() == "postgres"
    ):
        raise SetupError("Odoo refuses the database user 'postgres': set PGUSER to another role")
    probe = run(
        [
            "psql",
            "-d",
            env.get("PGDATABASE", "postgres"),
            "-Atc",
            "select rolcreatedb or rolsuper from pg_roles where rolname = current_user",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "t"


def current_user():
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name
