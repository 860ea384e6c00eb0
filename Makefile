# mailbot: the two commands of the README, and their parts.
#   make run    installs the bot in .venv, starts the lab (a real Postfix + Cyrus + OpenSSH on
#               loopback, needs root), sends it mail, and runs the bot against it
#   make test   the same set-up and the Docker image, then lint, type checks and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install lab traffic run lint test fixtures bench messages postgresql prometheus

$(BIN)/mailbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/mailbot

lab:
	bash lab/up.sh

traffic: lab
	bash lab/traffic.sh

run: install traffic
	$(BIN)/mailbot check
	$(BIN)/mailbot trace full@lab.test

# The programs sent to the hosts (bot/mailhost/scripts) are linted too: ruff, and shellcheck
# (Debian's package, installed here when missing).
lint: install
	command -v shellcheck >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }
	shellcheck bot/mailhost/scripts/*.sh
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy

test: install traffic image lint postgresql prometheus
	$(BIN)/pytest -q
	$(BIN)/python bench/queue_summary.py --count 2000 --runs 1
	$(BIN)/python bench/startup.py --small
	$(BIN)/python bench/run.py --small
	$(BIN)/python bench/alerts.py --small
	$(BIN)/python bench/approvals.py --small

# Debian's PostgreSQL server binaries, for the state tests (they start their own cluster; no service).
postgresql:
	test -x /usr/lib/postgresql/15/bin/initdb || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null; }

# Debian's Prometheus server, for tests/slack/test_metrics.py (it starts its own on loopback; no service).
prometheus:
	test -x /usr/bin/prometheus || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

# Re-extract the user-facing strings (bot/locale/messages.pot) and merge them into each catalogue;
# new strings arrive untranslated (tests/test_i18n.py fails until they are translated).
messages: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header --width=100 -o bot/locale/messages.pot bot
	$(BIN)/pybabel update -i bot/locale/messages.pot -d bot/locale -D messages --no-fuzzy-matching --ignore-obsolete --width=100

# The benchmarks at full size (figures quoted in the README).
bench: install
	$(BIN)/python bench/queue_summary.py
	$(BIN)/python bench/alerts.py

# Refresh the parser fixtures from what the lab really printed.
fixtures: traffic
	bash lab/capture-fixtures.sh

# The Docker image (localhost/mailbot:latest) built with podman from a locally made Debian base, no
# registry needed, and the Dockerfile linted with hadolint; needs root. Tested by tests/image.
.PHONY: image
image:
	bash .ci/image

# The trace benchmark (bench/README.md): about 1 GB of generated Postfix logs searched over the
# lab's SSH, a table of ratios to baselines measured in the same run. Needs the lab (root).
.PHONY: bench-trace bench-small
bench-trace: install lab
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/run.py

# The same in small mode (8 MB of logs, one run of each figure, no timing assertion): for CI.
bench-small: install lab
	$(BIN)/python bench/startup.py --small
	$(BIN)/python bench/run.py --small
