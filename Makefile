# The README's two commands: `make demo` (the main job, built-in data, no network) and
# `make test` (the whole suite). Both create .venv on first use; nothing else is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGINS := $(wildcard plugins/rdpkit-*)
PLUGIN_FILES := $(wildcard plugins/rdpkit-*/pyproject.toml)

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt $(PLUGIN_FILES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,ray]' $(foreach p,$(PLUGINS),-e ./$(p))
	touch $@

demo: setup
	$(BIN)/rdpkit plugins
	$(BIN)/rdpkit score --image builtin:astronaut --size 256

test: setup
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV)
