# vibemap — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: install install-dev chromium demo index test bench lint clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "vibemap needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the stamps make re-runs instant until pyproject.toml changes
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed            ## create or update the virtual environment
install-dev: $(VENV)/.installed-dev    ## ... with the test and lint tools

demo: install                          ## build the demo artifact if missing, then serve API + UI
	$(BIN)/vibemap demo --port $(PORT)

index: install                         ## (re)build the demo artifact
	$(BIN)/vibemap index

# Browser tests drive Debian's chromium; install it where missing (root + apt), else they skip.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and cannot be installed here: browser tests will skip"; fi; }

test: install-dev chromium             ## the whole suite (benchmarks excluded)
	$(BIN)/python -m pytest

bench: install-dev chromium            ## slow benchmarks; figures go to bench/RESULTS.md
	$(BIN)/python -m pytest -m bench -s

lint: install-dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-output
