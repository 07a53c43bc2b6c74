# Two commands do all setup on a fresh machine: `make demo` and `make test` (`make lint` for CI).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# CPU build of torch from the local wheel cache; an unpinned torch pulls CUDA (GBs).
TORCH   ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test lint venv clean bench info model bcdi-model

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test,ml,fftw,dev]" "$(TORCH)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hifft info
	$(BIN)/hifft run pipelines/demo.yaml
	$(BIN)/hifft ml predict out/demo/demo.h5 --plot out/demo/ml_refined.png --json out/demo/ml_refined.json

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (rules in pyproject.toml) over the repository, mypy over hifft/; both run, then fail if either did.
lint: $(STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

info: $(STAMP)
	$(BIN)/hifft info

# Retrain the shipped 1D inverse model (hifft/ml/models/default.pt): run it alone on the
# machine (~15 min dataset + 45 min training on 2 cores); the record lands beside the weights.
model: $(STAMP)
	$(BIN)/hifft ml dataset pipelines/ml_default.yaml out/ml/curves.zarr
	$(BIN)/hifft ml train pipelines/ml_default.yaml
	$(BIN)/hifft ml export out/ml/run/model.pt hifft/ml/models/default.pt --command "make model"

# Retrain the shipped BCDI 3D inpainting model (hifft/bcdi/models/inpaint_3d.pt, 22 min wall
# clock on 2 cores, simulation included; run it alone); its training record lands beside it.
bcdi-model: $(STAMP)
	$(BIN)/hifft bcdi train-inpaint pipelines/bcdi_inpaint_3d.yaml --minutes 22 --out out/bcdi/inpaint_3d
	mkdir -p hifft/bcdi/models
	cp out/bcdi/inpaint_3d/model.pt hifft/bcdi/models/inpaint_3d.pt
	cp out/bcdi/inpaint_3d/model.json hifft/bcdi/models/inpaint_3d.json

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fft.py

clean:
	rm -rf $(VENV) out *.egg-info
