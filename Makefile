# Two entry points do all set-up on a fresh machine:
#   make demo   the main job on the sample corpus that ships in samples/
#   make test   the test suite (installs chromium for the browser tests; the Label Studio
#               server installs itself into its own cached environment on first use)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: demo test system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	rm -f $(VENV)/.installed-*; touch $@

system-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium chromium-driver; \
	  else echo "chromium and chromium-driver are missing: the browser tests will be skipped"; fi; \
	fi

demo: $(STAMP)
	rm -rf build/demo
	$(BIN)/builder segment samples --out build/demo/records

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build
