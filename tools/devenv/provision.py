"""Provisioning: the Odoo source, the virtual environments, the Debian packages, the wheels."""

import ast
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .config import ADDON, BRIDGES, CACHE, ROOT, SetupError, run, say

ODOO_GIT = "https://github.com/odoo/odoo.git"
DEBIAN_PACKAGES = {
    "chromium": "/usr/bin/chromium",
    "libldap2-dev": "/usr/include/ldap.h",
    "libsasl2-dev": "/usr/include/sasl/sasl.h",
    "libpq-dev": "/usr/include/postgresql/libpq-fe.h",
    # Odoo renders PDF reports with it (the order confirmation mail attaches one).
    "wkhtmltopdf": "/usr/bin/wkhtmltopdf",
}
# Old sdists in Odoo's pins do not build with newer setuptools: a build constraint.
SETUPTOOLS_PIN = "setuptools<70"
# At run time Odoo's gevent process resolves gevent's entry points through
# pkg_resources: setuptools 81 removed it, and before 70 it cannot match today's
# normalised wheel names (zope_interface-*.dist-info for "zope.interface"), so the
# gevent process crash-loops in prefork mode and burns a core.
SETUPTOOLS_RUNTIME = "setuptools>=70,<81"
GEVENT_CHECK = "import pkg_resources; pkg_resources.require('gevent')"


def find_python(version):
    for name in (f"python{version}", "python3"):
        exe = shutil.which(name)
        if exe:
            out = run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if out == version:
                return exe
    raise SetupError(f"Python {version} is needed (Odoo's pinned requirements build on it)")


def source_variable(series, default):
    """The variable pointing at a series' source: ``ODOO_SRC`` for the default series,
    ``ODOO_SRC_<major>`` (``ODOO_SRC_19``) for every other one."""
    return "ODOO_SRC" if series == default else f"ODOO_SRC_{series.split('.')[0]}"


def odoo_source(series, python, variable):
    """Return the Odoo ``series`` source directory, or None with the reason printed.

    ``variable`` set to anything but such a tree is an error, not a skip: it says which
    source to test, so a typo must not quietly test nothing.
    """
    env = os.environ.get(variable)
    if env:
        src = Path(env).expanduser().resolve()
        if source_series(src) != series:
            raise SetupError(f"{variable}={src} is not an Odoo {series} source tree")
        return src
    probe = run(
        [
            python,
            "-c",
            "import odoo, odoo.release as r, os;"
            "print(r.series, os.path.dirname(os.path.dirname(odoo.__file__)))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        found_series, _, path = probe.stdout.strip().partition(" ")
        if found_series == series and source_series(Path(path)) == series:
            return Path(path)
    cached = CACHE / f"odoo-{series}"
    if source_series(cached) == series:
        return cached
    say(f"no Odoo {series} source found; cloning {ODOO_GIT} ({series}, depth 1) into {cached}")
    with tempfile.TemporaryDirectory(dir=CACHE.parent if CACHE.parent.exists() else None) as tmp:
        try:
            run(
                ["git", "clone", "-q", "--depth", "1", "-b", series, ODOO_GIT, tmp + "/odoo"],
                timeout=900,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError):
            say(
                f"could not clone Odoo {series} (offline?). Point {variable} at an Odoo {series} "
                f"source tree, or unpack one into {cached}."
            )
            return None
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp + "/odoo", cached)
    return cached


def source_series(path):
    """The series (``"18.0"``) of the Odoo source tree at ``path``, or None if it is none."""
    release = path / "odoo" / "release.py"
    if not release.is_file() or not (path / "odoo-bin").is_file():
        return None
    match = re.search(r"^version_info = \((\d+), (\d+)", release.read_text(), re.M)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def ensure_debian_packages(names):
    missing = [name for name in names if not os.path.exists(DEBIAN_PACKAGES[name])]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SetupError(f"missing Debian packages: {' '.join(missing)} (install them as root)")
    say(f"installing Debian packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
    run(["apt-get", "install", "-y", "-qq", *missing], env=env, stdout=subprocess.DEVNULL)


def ensure_venv(python, odoo_src):
    """The suites' environment: Odoo's pinned requirements (when Odoo is there) and ours."""
    reqs = [ROOT / "requirements.txt"] + ([odoo_src / "requirements.txt"] if odoo_src else [])
    return _venv(python, "odoo" if odoo_src else "pure", reqs, odoo_src)


def ensure_lint_venv(python):
    """Lint tools apart from Odoo's pins, so every machine lints with the same versions."""
    return _venv(python, "lint", [ROOT / "requirements-lint.txt"], None)


def _venv(python, kind, reqs, odoo_src):
    """A virtual environment keyed by the hash of the requirements it was built from."""
    digest = hashlib.sha256(python.encode() + SETUPTOOLS_PIN.encode() + SETUPTOOLS_RUNTIME.encode())
    for req in reqs:
        digest.update(req.read_bytes())
    venv = CACHE / f"venv-{kind}-{digest.hexdigest()[:12]}"
    vpython = venv / "bin" / "python"
    # Runs in other checkouts share the cache: one builds, the others wait for it.
    with (CACHE / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            _build_venv(python, venv, reqs, odoo_src)
    return vpython


def _build_venv(python, venv, reqs, odoo_src):
    vpython = venv / "bin" / "python"
    shutil.rmtree(venv, ignore_errors=True)
    say(f"building {venv} (first run only: several minutes)")
    run([python, "-m", "venv", str(venv)])
    constraints = venv / "constraints.txt"
    constraints.write_text(SETUPTOOLS_PIN + "\n")
    # pip >= 25.3 reads build constraints from their own variable; older pip from PIP_CONSTRAINT.
    env = dict(
        os.environ,
        PIP_CONSTRAINT=str(constraints),
        PIP_BUILD_CONSTRAINT=str(constraints),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    pip = [str(vpython), "-m", "pip", "install", "-q"]
    run([*pip, "--upgrade", "pip", SETUPTOOLS_PIN, "wheel"], env=env)
    # Odoo's pins first; ours on top, constrained by Odoo's so no tool upgrades them.
    pins = ["-c", str(odoo_src / "requirements.txt")] if odoo_src else []
    for req in reversed(reqs):
        run([*pip, "-r", str(req), *([] if req.parent == odoo_src else pins)], env=env)
    if odoo_src:
        env.pop("PIP_CONSTRAINT")
        run([*pip, SETUPTOOLS_RUNTIME], env=env)
        if run([str(vpython), "-W", "ignore", "-c", GEVENT_CHECK], check=False).returncode:
            raise SetupError(f"{venv}: Odoo's gevent process would not start (see above)")
    (venv / ".complete").write_text("\n".join(str(r) for r in reqs))


def build_wheels(vpython, dist, series, root=ROOT):
    """Build the wheels ``odoo-addon-<addon>`` of the main addon and of each bridge for the
    Odoo ``series`` into ``dist``.

    Each wheel has its ``setup.py``: the repository's for the main addon,
    ``setup/<addon>/`` for each bridge (the OCA layout); both read the series from
    ``ODOO_SERIES``. ``root`` is the repository to build from (the packaging tests pass a
    copy). Returns the wheels' paths.
    """
    wheels = []
    env = dict(os.environ, ODOO_SERIES=series)
    for addon, project in ((ADDON, root), *((b, root / "setup" / b) for b in BRIDGES)):
        run([str(vpython), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
             "-w", str(dist), str(project)], env=env)  # fmt: skip
        shutil.rmtree(project / "build", ignore_errors=True)
        for egg_info in project.glob("*.egg-info"):
            shutil.rmtree(egg_info)
        manifest = ast.literal_eval((root / addon / "__manifest__.py").read_text())
        version = f"{series}.{manifest['version']}"
        wheels.append(Path(dist) / f"odoo_addon_{addon}-{version}-py3-none-any.whl")
    return wheels
