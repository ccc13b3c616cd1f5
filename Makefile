# The README's commands. tools/devenv.py prepares whatever is missing (Odoo 18 source,
# virtual environment, PostgreSQL role, Chromium) and reads .odoo-ci.yml.
PYTHON ?= python3

.PHONY: test lint demo wheel bench chaos

test:
	$(PYTHON) tools/devenv.py test

lint:
	$(PYTHON) tools/devenv.py lint

demo:
	$(PYTHON) tools/devenv.py demo

wheel:
	$(PYTHON) tools/devenv.py wheel

bench:
	$(PYTHON) bench/webhook_bench.py

# The adversarial suites at full size (tens of minutes); their figures go to bench/CHAOS.md.
chaos:
	$(PYTHON) tools/devenv.py chaos
