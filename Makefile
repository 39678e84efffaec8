# Every target installs what it needs (scripts/setup.sh is idempotent).
SHELL := /bin/bash
PY := .venv/bin/python
export QT_QPA_PLATFORM := offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test lint demo demo-assets bench bench-gpu package screenshots clean

.venv/.installed: requirements.txt requirements-dev.txt scripts/setup.sh
	bash scripts/setup.sh

setup: .venv/.installed

lint: setup
	$(PY) -m ruff check .

test: setup
	$(PY) -m ruff check .
	QGIS_CUSTOM_CONFIG_PATH=$$(mktemp -d) $(PY) -m pytest

demo: setup
	$(PY) -m scripts.demo

demo-assets: setup
	$(PY) -m scripts.make_demo_assets

bench: setup
	$(PY) -m bench.testbed
	$(PY) -m bench.testbed --testbed hard
	$(PY) -m bench.scarcity
	$(PY) -m bench.presets
	$(PY) -m bench.inference
	$(PY) -m bench.scan --threads 1 --repeats 7
	$(PY) -m bench.batch
	$(PY) -m bench.contribution_pairs --seeds 0,1
	$(PY) -m bench.contribution_grid

# on a machine with a CUDA GPU and a CUDA build of torch (docs/bench/gpu.md; mamba_ssm optional)
bench-gpu: setup
	$(PY) -m bench.gpu

package:
	python3 scripts/package.py --out-dir dist

# the real QGIS desktop under Xvfb: Load demo, Run, screenshot; Load demo, Train (quick, shortened), Run
# (both also run by tests/ui/test_desktop.py)
TRAIN_SHOT_SETTINGS := ddpm_steps=120; epochs=4; min_steps=0; pseudo_rounds=0; eval_stride=2
screenshots: setup
	$(PY) -m scripts.desktop_demo --out out/desktop --screenshot docs/img/desktop.png
	$(PY) -m scripts.desktop_demo --out out/desktop-train --scenario train --timeout 900 \
		--train-settings "$(TRAIN_SHOT_SETTINGS)" --screenshot docs/img/desktop_train.png

clean:
	rm -rf .venv .pytest_cache .ruff_cache build dist
