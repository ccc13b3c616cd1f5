# The README's commands. `python3 -m tools.devenv` (the package tools/devenv/) prepares
# whatever is missing (Odoo sources of the series .odoo-ci.yml lists, virtual environments,
# PostgreSQL role, Chromium) and reads .odoo-ci.yml. Run make from the repository's root.
PYTHON ?= python3

.PHONY: test lint demo wheel bench chaos

test:
	$(PYTHON) -m tools.devenv test

lint:
	$(PYTHON) -m tools.devenv lint

# SERIES=19.0: the demo on another series of .odoo-ci.yml (default: the first listed).
demo:
	$(PYTHON) -m tools.devenv demo $(if $(SERIES),--series $(SERIES))

wheel:
	$(PYTHON) -m tools.devenv wheel

# Every section in one run (bench/run.py); QUICK=1: a reduced run for development, its
# results under ~/.cache/payment-klarna/bench/quick/ instead of bench/.
bench:
	$(PYTHON) bench/run.py $(if $(QUICK),--quick)

# The adversarial suites at full size (tens of minutes); their figures go to bench/CHAOS.md.
chaos:
	$(PYTHON) -m tools.devenv chaos
