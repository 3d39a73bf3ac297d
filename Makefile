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

# segment → (labels, when a Label Studio server runs) → publish → verify; prints how to load the release.
# 70/15/15: the sample's 17 pages at 80/10/10 would leave the test split empty.
DEMO_RELEASE = build/demo/releases/news-demo/1.0.0
demo: $(STAMP)
	rm -rf build/demo
	$(BIN)/builder segment samples --out build/demo/records
	@if $(BIN)/builder studio status >/dev/null 2>&1; then \
	  $(BIN)/builder push build/demo/records --project builder-demo && \
	  $(BIN)/builder pull --project builder-demo --out build/demo/labels; \
	else echo "Label Studio is not running (builder studio start): publishing without human labels"; fi
	$(BIN)/builder publish build/demo/records $$([ -d build/demo/labels ] && echo --labels build/demo/labels) \
	  --name news-demo --version 1.0.0 --ratios 70/15/15 --out build/demo/releases
	$(BIN)/builder verify $(DEMO_RELEASE)
	@echo "The card: $(DEMO_RELEASE)/README.md"
	@echo "Load it (the project's environment has datasets): $(BIN)/python -c \"import datasets; print(datasets.load_dataset('$(DEMO_RELEASE)'))\""

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build
