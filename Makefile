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

# The main job: what is installed, a scoring table, and the blind-spot audit of the built-in
# distortions on two built-in images from two starts (report: rdpkit-audit/report.html).
demo: setup
	$(BIN)/rdpkit plugins
	$(BIN)/rdpkit score --image builtin:astronaut --size 256
	$(BIN)/rdpkit audit --distribution rdpkit --image builtin:astronaut --image builtin:coffee --init noise --init jpeg:10

test: setup
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV)
