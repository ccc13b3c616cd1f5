"""Secret scan: no password, signing secret, token or customer contact datum in any log.

The exact values come from the secrets files (the suites' own and every simulator's
ledger, see ``klarna_simulator.ledger``): credentials, signing secrets, client tokens,
authorization tokens, customer tokens, and the test customers' e-mail addresses,
phones and streets. A value is found when a log line holds it as a whole word
(tokens are split on characters no secret contains); values with spaces are looked
up as substrings. Besides, an ``access_token`` of 64 hex digits (the addon's
per-transaction token) or a ``client_token`` printed under its name is a leak even if
its value was never recorded. Each log file is one check.
The authorization callback's path token is not scanned for: it is one-time and only
its hash is stored (issue 13, defect 7).
"""

import re
from pathlib import Path

MIN_LENGTH = 6  # shorter values would match ordinary words
WORD = re.compile(rf"[A-Za-z0-9_\-+.@]{{{MIN_LENGTH},}}")
# Per-transaction tokens the addon derives itself (64 hex digits) and Klarna client tokens
# printed under their own names: leaks even when the value was never recorded.
KEYED = re.compile(
    r"(?i)\b(?:klarna_access_token|access_token)[\"']?\s*[:=]\s*[\"']?([0-9a-f]{64})(?![0-9a-f])"
    r"|\bclient_token[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9_-]{32,})"
)


def load(secret_files):
    values = set()
    for path in secret_files:
        if Path(path).exists():
            values.update(line.strip() for line in Path(path).read_text().splitlines())
    return {value for value in values if len(value) >= MIN_LENGTH}


def logs(paths, exclude):
    """Every log file under ``paths``, once each, except the secrets files."""
    seen = {path.resolve() for path in exclude}
    for path in map(Path, paths):
        found = sorted(path.rglob("*")) if path.is_dir() else [path]
        for log in found:
            if (
                log.is_file()
                and log.suffix in (".log", ".txt", ".out")
                and log.resolve() not in seen
            ):
                seen.add(log.resolve())
                yield log


def mask(value):
    return f"{value[:3]}…({len(value)} chars)"


def scan_file(path, words, spaced):
    """``[(line number, masked finding)]`` for one log file."""
    found = []
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            hits = set()
            for word in WORD.findall(line):
                for candidate in (word, word.strip(".-_+@")):
                    if candidate in words:
                        hits.add(candidate)
            hits.update(value for value in spaced if value in line)
            hits.update(value for pair in KEYED.findall(line) for value in pair if value)
            found.extend((number, mask(hit)) for hit in sorted(hits))
    return found


def run(paths, secret_files):
    secret_files = [Path(p) for p in secret_files]
    secrets = load(secret_files)
    spaced = {value for value in secrets if not WORD.fullmatch(value)}
    words = secrets - spaced
    passed, failures, size, files = 0, [], 0, 0
    for path in logs(paths, set(secret_files)):
        files += 1
        size += path.stat().st_size
        found = scan_file(path, words, spaced)
        if found:
            examples = ", ".join(f"line {n}: {what}" for n, what in found[:5])
            failures.append(f"{path}: {len(found)} secrets ({examples})")
        else:
            passed += 1
    if not secrets:
        failures.append("no secrets gathered: the scan would prove nothing")
    figures = {"log files": files, "MB scanned": round(size / 1e6, 1), "secrets": len(secrets)}
    return passed, failures, figures
