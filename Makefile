# The two commands of the README: `make demo` and `make test`. Everything else helps them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app portal
HOST ?= 127.0.0.1
PORT ?= 5000
MAIL_PORT ?= 8025
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/
# The shared sample registry when it sits beside the repo, else the copy shipped here.
SAMPLE_SCHOOLS := $(firstword $(wildcard ../shared/schools-sample.csv) portal/data/schools-sample.csv)
CATALOGS := $(wildcard portal/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: demo test install lint typecheck pytest bench messages system-deps clean serve

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every dependency at the version of requirements/constraints.txt (`make lock` renews it).
CONSTRAINTS := requirements/constraints.txt

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml $(CONSTRAINTS)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[test]'
	deploy/bin/qr111-build-argon2 $(VENV)  # Argon2id for this CPU: ~40% less per derivation
	touch $@

install: $(VENV)/.installed $(COMPILED)

portal/translations/%/LC_MESSAGES/messages.mo: portal/translations/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@ -l $*

# The URLs the demo prints (and its posters carry) point at the server it starts.
demo: export PORTAL_BASE_URL ?= http://$(HOST):$(PORT)
# Staff notifications go to a mail catcher printing them in this terminal (flask notify catch),
# sent by a notification worker beside the server; Ctrl-C stops all three.
demo: export PORTAL_SMTP_URL ?= smtp+plain://127.0.0.1:$(MAIL_PORT)
demo: install
	$(FLASK) db upgrade
	@echo
	$(FLASK) demo $(SAMPLE_SCHOOLS)
	@echo
	$(FLASK) notify catch --port $(MAIL_PORT) & catcher=$$!; \
	$(FLASK) notify run & worker=$$!; \
	trap 'kill $$worker $$catcher 2>/dev/null' EXIT; \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install system-deps lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The suite on the embedded defaults (SQLite, limits in memory), then again on PostgreSQL and
# Redis when PORTAL_TEST_DATABASE_URL (a database from which the tests may create and drop
# their own) and PORTAL_TEST_REDIS_URL are both set, as .ci/run does. The two runs' fast parts
# go side by side, one a core; then the tests that start chromium or gunicorn (SERVED), beside
# nothing else: the gunicorn ones on each backend, the browser ones (tests/e2e) on the embedded
# defaults only (their pages are the same on both; every web test runs on both).
SQLITE := env -u PORTAL_TEST_DATABASE_URL -u PORTAL_TEST_REDIS_URL
SERVED := tests/e2e tests/prod
FAST := $(BIN)/pytest $(addprefix --ignore=,$(SERVED))
SIDE_BY_SIDE := $(BIN)/python tests/side_by_side.py
pytest: install
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ] && [ -n "$$PORTAL_TEST_REDIS_URL" ]; then \
	  $(SIDE_BY_SIDE) \
	    "the suite but $(SERVED), on the embedded defaults" "$(SQLITE) $(FAST)" \
	    "the suite but $(SERVED), on PostgreSQL and Redis" "$(FAST)" && \
	  echo "== $(SERVED) on the embedded defaults" && $(SQLITE) $(BIN)/pytest $(SERVED) && \
	  echo "== tests/prod on PostgreSQL and Redis" && $(BIN)/pytest tests/prod; \
	else \
	  echo "== PORTAL_TEST_DATABASE_URL and PORTAL_TEST_REDIS_URL unset: no PostgreSQL + Redis run"; \
	  $(SQLITE) $(BIN)/pytest; \
	fi
	$(MAKE) --no-print-directory calendar

# Time is an input: the fast part of the suite (no browser, no gunicorn) again on the embedded
# defaults with the one clock started where calendars break, each crossed during the run: the
# turn of a year, and 29 February into 1 March (Kazakhstan time). The two runs go side by side,
# one a core (3.2 min instead of 4.8).
CALENDAR_INSTANTS := 2027-12-31T23:59:00+05:00 2028-02-29T23:59:00+05:00
calendar: install
	@$(SIDE_BY_SIDE) $(foreach instant,$(CALENDAR_INSTANTS),\
	  "the suite but $(SERVED), with the clock at $(instant)" \
	  "$(SQLITE) $(FAST) -q --clock $(instant)")

# bench/child.py serves the portal with gunicorn, and bench/inbox.py talks to PostgreSQL
# (PG_URL, a server where it may create and drop its own database) with psycopg: both come
# with the prod extra (in dev).
$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $@

bench: install $(VENV)/.installed-dev
	$(BIN)/python bench/posters.py
	$(BIN)/python bench/child.py
	$(BIN)/python bench/flood.py
	$(BIN)/python bench/notify.py
	$(BIN)/python bench/inbox.py --postgres-url '$(PG_URL)'
	$(BIN)/python bench/triage.py

# Production serving: gunicorn, PostgreSQL and Redis clients (the prod extra).
$(VENV)/.installed-prod: $(VENV)/.installed
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[prod]'
	touch $@

# gunicorn with the settings of gunicorn.conf.py; PORTAL_* variables configure the portal
# (docs/deploy.md). Migrations are idempotent; with several instances run them once yourself.
serve: install $(VENV)/.installed-prod
	$(FLASK) db upgrade
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT)

.PHONY: fuzz lock calendar

# The long fuzz run (10,000+ cases); `make test` runs the same tests with a few hundred.
fuzz: install
	QR111_FUZZ=long $(BIN)/pytest -q tests/fuzz --hypothesis-show-statistics

# Pin what is installed now (after a setup.cfg change and a green `make test`).
lock: $(VENV)/.installed-dev
	{ echo "# Pinned versions of every dependency (test and prod extras too), used by make demo and make test."; \
	  echo "# Regenerate with \`make lock\` after changing setup.cfg; the project itself is not listed."; \
	  $(BIN)/pip freeze --exclude-editable; } > $(CONSTRAINTS)

# Debian's chromium drives the browser tests, its nginx and age the deployment's (tests/deploy:
# `nginx -t` on deploy/nginx, the encrypted backups); installed here when we may (root with
# apt). Without them and without root, the browser tests cannot run (an error) and the
# deployment's tests that need nginx or age skip, saying so. (On a machine run by systemd,
# Debian starts the nginx it installs: the default site listens on port 80.)
system-deps:
	@missing=""; \
	for program in /usr/bin/chromium /usr/sbin/nginx /usr/bin/age; do \
	  [ -x $$program ] || missing="$$missing $${program##*/}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "tests need Debian's$$missing: sudo apt-get install$$missing"; \
	    case "$$missing" in *chromium*) exit 1;; esac; \
	  fi; \
	fi

messages: install
	$(BIN)/pybabel extract -F portal/translations/babel.cfg -k _ -k _l -k lazy_gettext \
	  --no-location --sort-output --omit-header -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations \
	  --width 100 --ignore-obsolete --no-fuzzy-matching

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info $(COMPILED)
