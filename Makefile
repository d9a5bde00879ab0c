# Two commands do everything: `make run` (set up, get the data, execute the notebook) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOK := Fashion_MNIST_model_training.ipynb
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL = $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
# Debian and Ubuntu ship venv's ensurepip apart from Python itself, as python3.X-venv: install it where missing.
ENSURE_VENV = $(PYTHON) -c "import ensurepip" 2>/dev/null || { $(APT_INSTALL) \
	python3.$$($(PYTHON) -c "import sys; print(sys.version_info.minor)")-venv; }
# Quiet TensorFlow's C++ logging and use its oneDNN CPU kernels in every command below.
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 1

.PHONY: setup data docs recipe run test test-serving test-tools lock check-lock lint slides export serve fuzz catalogue screenshot benchmark-similar benchmark-training benchmark-batch-norm benchmark-serving benchmark-explanations benchmark-photos benchmark-own-photos benchmark-robustness benchmark-scale benchmark-setup benchmark-tolerances benchmark-regression determinism clean

setup: $(VENV)/.installed data

# requirements.txt pins the tested environment with hashes, which the installer verifies: uv (itself pinned and
# hashed in requirements-uv.txt, installed by pip), or pip alone with `make setup INSTALLER=pip`. The project
# goes in on top, editable, without touching those pins.
INSTALLER ?= uv
$(VENV)/.installed: requirements.txt requirements-uv.txt pyproject.toml uv.lock
	$(ENSURE_VENV)
	$(PYTHON) -m venv $(VENV)
ifeq ($(INSTALLER),uv)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-uv.txt
	$(BIN)/uv pip install --quiet --require-hashes -r requirements.txt --python $(BIN)/python
else
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt
endif
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Debian's dataset-fashion-mnist holds the four official files; without it, fmnist.data downloads them with
# Keras. It verifies them either way, and its error names both ways to get them.
data: $(VENV)/.installed
	@if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null; then \
		{ $(APT_INSTALL) dataset-fashion-mnist; } || \
		echo "apt-get could not install dataset-fashion-mnist: falling back to the verified Keras download"; fi
	$(BIN)/python -m fmnist.data

# TensorFlow's C++ start-up lines go to this terminal, not into the notebook (the kernel leaves fd 2 alone).
run: setup recipe
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=3600 --ExecutePreprocessor.record_timing=False \
		--ExecutePreprocessor.extra_arguments='["--IPKernelApp.capture_fd_output=False"]' $(NOTEBOOK)

# The figures that README.md and docs/*.md quote, rewritten from the committed reports (docs/figures.py; cog
# reads the reports as git holds them, so stage a new report first). tests/test_docs.py checks they are current.
COG = $(BIN)/cog -I . -I docs -p "import figures"
DOCS := README.md $(wildcard docs/*.md)
docs: setup
	$(COG) -r $(DOCS)

# src/fmnist/recipe.py, the notebook's recipe cells as a module, which the benchmarks and the tests train.
recipe: setup
	$(BIN)/python -m fmnist.notebook_recipe $(NOTEBOOK) src/fmnist/recipe.py

# models/catalogue.npz, the API's catalogue: the notebook writes the 10,000 test images' (`make run`);
# `make catalogue SOURCE=folder-or.csv` builds a shop's own instead (docs/similar.md: adding and removing items).
catalogue: $(VENV)/.installed
	$(if $(SOURCE),,$(error make catalogue needs SOURCE=folder-or.csv; `make run` writes the test images' catalogue))
	$(BIN)/python -m fmnist.tag.catalogue build "$(SOURCE)"

# The programs that some tests drive: Chromium for the demo page (or GitHub's preinstalled Google Chrome) and
# LibreOffice for the slides. The tests never install anything: where one is missing they skip and name it,
# and CI (FMNIST_NO_SKIPS=1) fails instead.
test-tools:
	@missing=""; \
	{ [ -n "$$FMNIST_CHROMIUM" ] || [ -x /usr/bin/chromium ] || command -v google-chrome >/dev/null; } || missing=chromium; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-impress"; \
	if [ -n "$$missing" ]; then $(APT_INSTALL) $$missing; fi

# Unit tests; then nbval re-executes the notebook and compares every output that does not depend on rounding
# with the committed one; then the regression test compares the re-executed metrics with the committed ones,
# within tolerances measured over seeds. The re-execution writes under build/nbval: the committed files stay.
# Last, the Ray pipeline's tests on a local cluster (minutes of Ray start-up), so that a run that fails earlier
# stops before them.
test: setup
	$(BIN)/python -m pytest -m 'not regression and not ray and not serving_install' tests
	rm -rf build/nbval
	FMNIST_RESULTS_DIR=build/nbval $(BIN)/python -m pytest --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg \
		--nbval-cell-timeout=3600 --timeout=3600 -p no:cacheprovider $(NOTEBOOK)
	$(BIN)/python -m pytest -m regression tests/test_regression.py
	$(BIN)/python -m pytest -m ray tests

# The serving install, in a venv of its own: the inference core and the `serve` extra from the lock, hashes
# checked, and the `test` group. No TensorFlow and no dataset: `make serve` runs in it.
SERVE_VENV := build/venv-serve
SERVE_SYNC = UV_PROJECT_ENVIRONMENT=$(SERVE_VENV) $(SERVE_VENV)/bin/uv sync --quiet --frozen --no-default-groups \
	--extra serve --group test --group bootstrap
$(SERVE_VENV)/.installed: pyproject.toml uv.lock requirements-uv.txt
	$(ENSURE_VENV)
	rm -rf $(SERVE_VENV) && $(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-uv.txt
	$(SERVE_SYNC)
	touch $@

# The serving install made afresh; reports/install_size.json records its size beside the full install's (.venv).
# Then the `ray` extra goes in too. It must hold no TensorFlow; the API, tagging, catalogue and Ray pipeline
# tests run in it, `make serve` among them, and the report adds its size with Ray.
SERVING_TESTS := tests/test_serve.py tests/test_tag.py tests/test_catalogue.py tests/test_images.py \
	tests/test_serving_install.py tests/test_cluster.py
test-serving:
	rm -rf $(SERVE_VENV)
	$(MAKE) --no-print-directory $(SERVE_VENV)/.installed
	$(PYTHON) -m benchmarks.install_size $(VENV) $(SERVE_VENV)
	$(SERVE_SYNC) --extra ray
	@if $(SERVE_VENV)/bin/python -c "import tensorflow" 2>/dev/null; then echo "the serving install holds TensorFlow"; exit 1; fi
	$(SERVE_VENV)/bin/python -m pytest -m 'not regression' -p no:cacheprovider $(SERVING_TESTS)
	$(PYTHON) -m benchmarks.install_size --with-ray $(SERVE_VENV)

# Rebuild the slides from the existing reports/ (no training).
slides: setup
	$(BIN)/python -m fmnist.slides

# Export models/fashion_cnn.keras again (SavedModel, TFLite) and rerun the parity check.
export: setup
	$(BIN)/python -m fmnist.export models/fashion_cnn.keras

# The API on port 8000 (uvicorn; /readyz for a load balancer, graceful shutdown: docs/serving.md), from the
# serving install: the model and catalogue that `make run` exported, or those the FMNIST_* variables name.
SERVE_PORT ?= 8000
serve: $(SERVE_VENV)/.installed
	$(SERVE_VENV)/bin/python -m fmnist.serve --host 127.0.0.1 --port $(SERVE_PORT)

# A longer seeded fuzzing run of the API than the one in `make test` (tests/test_fuzz.py).
fuzz: setup
	FMNIST_FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest -m slow tests/test_fuzz.py

benchmark-training: setup
	$(BIN)/python -m benchmarks.training --seeds 43 44 --committed-seed --float32-seeds 42 43 44

# The notebook's whole training with its fused batch norm and with Keras's BatchNormalization, alternating:
# reports/batch_norm_timing.json (the lesson keeps the fused layer only where it saves at least 15 %).
benchmark-batch-norm: setup
	$(BIN)/python -m benchmarks.batch_norm_timing --rounds 2

benchmark-serving: setup
	$(BIN)/python -m benchmarks.serving

# Exact search and the ANN engine on 1,000,000 embeddings of augmented images: reports/similar_benchmark.json.
benchmark-similar: setup
	$(BIN)/python -m benchmarks.similar --items 1000000

# docs/demo.png: the demo page in headless Chromium, after an upload (needs Debian's chromium).
screenshot: setup
	$(BIN)/python -m benchmarks.screenshot

# Test images rendered as a shop's product photos, through the API's preprocessing: reports/photo_benchmark.json
# (the tuning set and the held-out set of a second renderer, accuracy per condition beside the native 28 × 28
# accuracy, and fmnist.tag's throughput); docs/photo_steps.png.
benchmark-photos: setup
	$(BIN)/python -m benchmarks.photos --images 5000 --steps-figure docs/photo_steps.png

# A shop's own five categories, rendered as colour product photos: a model trained on them at 64 × 64 (all the
# photos, then fewer per category), fmnist.tag's rate, and the 28 × 28 model on the same test photos:
# reports/own_photos_benchmark.json (docs/own-photos.md).
benchmark-own-photos: setup
	$(BIN)/python -m benchmarks.own_photos --per-category 1000 --sizes 100 250 500

# The test split under the changes that shops' photos show, written down in docs/robustness.md (a mirror, a tilt,
# a crop, blur, noise, exposure ...), on the 28 × 28 path and through fmnist.core.images: reports/robustness.json.
benchmark-robustness: setup
	$(BIN)/python -m benchmarks.robustness --figure docs/robustness.png

# Tagging 10,000 photos of 1,000 px on this machine: the local tagger with one decoding process and with one per
# core, and the Ray pipeline with 1 and 2 actors, side by side: reports/scale_benchmark.json (docs/scale.md).
benchmark-scale: setup
	$(BIN)/python -m benchmarks.scale --photos 10000

# Faithfulness of every explanation method on 1,000 test images: reports/explanations.json.
benchmark-explanations: setup
	$(BIN)/python -m benchmarks.explanations --images 1000

# The regression test's tolerances: the notebook once per seed in bfloat16 (where the processor has bfloat16
# units) and in float32 (runs already recorded in reports/tolerance_runs.jsonl are kept), then
# reports/regression_tolerances.json. Each kind of processor the project runs on adds its runs.
benchmark-tolerances: setup
	$(BIN)/python -m benchmarks.tolerances --seeds 43 44 45 46 --float32-seeds 42 43 44

# Two clean runs of `make test` (bfloat16, float32), then realistic mistakes injected one at a time, each
# caught or not by a named test: reports/regression_detection.json.
benchmark-regression: setup
	$(BIN)/python -m benchmarks.regression_detection

# Set-up time from a fresh clone, before and after the locked requirements: reports/setup_time.json.
benchmark-setup:
	$(PYTHON) -m benchmarks.setup_time

# Lint first and fast: its own small venv with only uv and the lint tools (the lock's `lint` group, hashed), no
# data and no TensorFlow.
LINT := .venv-lint/bin
$(LINT)/.installed: Makefile uv.lock requirements-uv.txt
	$(ENSURE_VENV)
	$(PYTHON) -m venv .venv-lint
	$(LINT)/python -m pip install --quiet --require-hashes -r requirements-uv.txt
	UV_PROJECT_ENVIRONMENT=.venv-lint $(LINT)/uv sync --quiet --frozen --only-group lint --only-group bootstrap
	touch $@

# uv.lock, resolved by uv from pyproject.toml for every supported Python and platform, holds every pin. The two
# requirements files are exported from it with hashes: requirements.txt (everything: all extras and groups) and
# requirements-uv.txt (uv itself, which pip installs first). `make check-lock` fails where either is stale.
EXPORTED = \# Exported from uv.lock by `make lock`: do not edit.
EXPORT = $(LINT)/uv export --quiet --frozen --no-emit-project --no-header
REQUIREMENTS_TXT = { echo '$(EXPORTED)'; $(EXPORT) --all-extras --all-groups; }
REQUIREMENTS_UV = { echo '$(EXPORTED)'; $(EXPORT) --only-group bootstrap; }
lock: $(LINT)/.installed
	$(LINT)/uv lock --quiet
	$(REQUIREMENTS_TXT) > requirements.txt
	$(REQUIREMENTS_UV) > requirements-uv.txt

# The lock is current (pyproject.toml unchanged since), the requirements files are its export, and
# requirements.txt resolves, hashes required and wheels only, for each supported Python on each platform (a dry
# run: it reads the index, it installs nothing). macOS: arm64, 14 or newer.
LOCK_PYTHONS := 3.11 3.12 3.13
LOCK_PLATFORMS := x86_64-manylinux_2_28 aarch64-manylinux_2_28 aarch64-apple-darwin x86_64-pc-windows-msvc
check-lock: $(LINT)/.installed
	$(LINT)/uv lock --check --quiet || { echo "uv.lock is stale: run make lock"; exit 1; }
	$(REQUIREMENTS_TXT) | diff -u requirements.txt - || { echo "requirements.txt is stale: run make lock"; exit 1; }
	$(REQUIREMENTS_UV) | diff -u requirements-uv.txt - || { echo "requirements-uv.txt is stale: run make lock"; exit 1; }
	@for python in $(LOCK_PYTHONS); do for platform in $(LOCK_PLATFORMS); do \
		MACOSX_DEPLOYMENT_TARGET=14.0 $(LINT)/uv pip install --dry-run --quiet --require-hashes --only-binary :all: \
			--python-version $$python --python-platform $$platform --target build/check-lock \
			-r requirements.txt || { echo "the lock does not install on Python $$python, $$platform"; exit 1; }; \
		echo "Python $$python, $$platform: the lock resolves"; done; done

# The import contracts of pyproject.toml (import-linter), then any import cycle at all (tools/import_cycles.py):
# both read the source in src/ without importing it, so the lint venv needs none of the package's dependencies.
LINT_PYTHON := src tests benchmarks tools docs/figures.py
lint: $(LINT)/.installed
	$(LINT)/ruff check $(LINT_PYTHON) $(NOTEBOOK)
	$(LINT)/ruff format --check $(LINT_PYTHON) $(NOTEBOOK)
	$(LINT)/actionlint .github/workflows/ci.yml
	PYTHONPATH=src $(LINT)/lint-imports --no-logo --no-cache
	PYTHONPATH=src $(LINT)/python tools/import_cycles.py fmnist

# Two fresh runs of the notebook into scratch folders must write the same metrics, timings aside.
determinism: setup
	rm -rf build/determinism && mkdir -p build/determinism
	for run in 1 2; do \
		$(BIN)/papermill --log-level WARNING $(NOTEBOOK) build/determinism/run$$run.ipynb -p RESULTS_DIR build/determinism/run$$run || exit 1; done
	$(BIN)/python -m benchmarks.compare_metrics build/determinism/run1/reports/metrics.json build/determinism/run2/reports/metrics.json

clean:
	rm -rf build models .pytest_cache
