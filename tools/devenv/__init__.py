"""One entry point for ``make test``, ``make lint`` and ``make demo``: ``python3 -m tools.devenv``.

It finds (or prepares) everything the suites need on a fresh machine: an Odoo
source of each series ``.odoo-ci.yml`` lists (18.0, 19.0), a virtual environment per
series built from that Odoo's and our requirements, a PostgreSQL the current user can
reach, headless Chromium for tours.  It runs
with the system ``python3`` and the standard library only, because it is what
builds the environment everything else needs.  What it reads from
``.odoo-ci.yml`` (series, Python, addons, test tags, lint steps) drives it.

Modules, each importing only those above it:

- ``config``: the repository's layout, ``.odoo-ci.yml``, the shared helpers;
- ``provision``: the Odoo sources, the virtual environments, Debian packages, the wheels;
- ``postgres``: a PostgreSQL server to create databases on;
- ``suites``: the suites and their ``Result``, and how they run Odoo;
- ``lint``: the lint steps ``.odoo-ci.yml`` names;
- ``demo``: the demo shop of ``make demo``;
- ``cli``: the commands.
"""
