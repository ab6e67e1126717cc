# replywatch — `make run` runs the bot with your .env on SQLite; `make test` runs the fast lane of the suite (a few
# minutes), `make test-all` all of it, as CI does.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run demo test test-all bench chaos check status lock clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "replywatch needs Python 3.11 or newer (set PYTHON=...)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	@test -f .env || { echo "No .env here: cp .env.example .env and fill in the tokens (see README)."; exit 2; }
	$(BIN)/replywatch run

# An hour of made-up traffic on built-in stand-ins of X, Bluesky and Mastodon, in a minute: no credentials needed.
demo: $(VENV)/.installed
	$(BIN)/replywatch demo

check: $(VENV)/.installed
	$(BIN)/replywatch check

status: $(VENV)/.installed
	$(BIN)/replywatch status

# The fast lane: everything but the tests marked slow, each Hypothesis property on a few examples (tests/conftest.py).
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# Everything: the slow tests too (kills, floods, real-time timing, replicas), each property at its full depth. CI runs it.
test-all: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest $(PYTEST_ARGS)

# The table (replywatch beside a naive baseline; BENCH_ARGS="--quick", "--only tick", "--backend sqlite" …), then the
# reliability suite's read and timing figures.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks $(BENCH_ARGS)
	$(BIN)/python -m pytest -q -s tests/reliability/test_gaps.py::test_bursts_of_1200_mentions_are_each_read_once tests/reliability/test_timing.py

# Every part but one broken at once (a hanging network, dripping look-ups, failing uploads, an archived channel, 500
# idle connections on the metrics port) for a few minutes: the healthy account's figures, and what `health` says.
chaos: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.chaos $(CHAOS_ARGS)

# The image installs exactly these versions, each checked against its hash (one resolution for every platform and
# every Python replywatch supports).
# Run after changing pyproject.toml's dependencies; commit requirements.lock with it.
lock: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --extra postgres --generate-hashes --universal --python-version 3.11 \
	  --quiet --custom-compile-command 'make lock' -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
