# The README's two commands: `make demo` (the main job, built-in data, no network) and
# `make test` (the whole suite). Both create .venv on first use; nothing else is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every plugin under plugins/ is installed, minus those named in WITHOUT: rdpkit-pyiqa brings
# pyiqa, which is PolyForm Noncommercial (`make test WITHOUT=rdpkit-pyiqa` leaves it out; its
# tests and the comparisons that need it are then skipped).
WITHOUT ?=
PLUGINS := $(filter-out $(addprefix plugins/,$(WITHOUT)),$(wildcard plugins/rdpkit-*))
PLUGIN_FILES := $(wildcard $(addsuffix /pyproject.toml,$(PLUGINS)))

.PHONY: setup demo test browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt $(PLUGIN_FILES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,ray]' $(foreach p,$(PLUGINS),-e ./$(p))
	touch $@

# The main job: what is installed, a scoring table, and the blind-spot audit on two built-in
# images from two starts (report: rdpkit-audit/report.html), of metrics meant to recover the
# reference (mse, ssim, ms-ssim) and metrics with a blind spot (a random-backbone LPIPS,
# pyiqa's gray-level NLPD on colour images, the example plugin's deliberately flawed
# pooled-mse), all offline. 7.3 minutes of CPU time (27 minutes of wall-clock time under nice
# on a 2-core CPU shared with other work; measured once, see the README).
DEMO_DISTORTIONS := mse ssim ms-ssim lpips-alex,pretrained=false pooled-mse $(if $(filter rdpkit-pyiqa,$(WITHOUT)),,pyiqa-nlpd)

demo: setup
	$(BIN)/rdpkit plugins
	$(BIN)/rdpkit score --image builtin:astronaut
	$(BIN)/rdpkit audit $(addprefix --distortion ,$(DEMO_DISTORTIONS)) --image builtin:astronaut --image builtin:coffee --init noise --init jpeg:10

# Debian's chromium renders the HTML reports in the browser tests; where apt-get cannot install
# it (not root, not Debian), those tests are skipped with that reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  { apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium is not installed: the browser tests of the reports will be skipped"

test: setup browser
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV)
