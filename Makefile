# Two commands do all setup on a fresh machine: `make demo` and `make test` (`make lint` for CI).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# CPU build of torch from the local wheel cache; an unpinned torch pulls CUDA (GBs).
TORCH   ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: classifier image-codecs demo test lint venv clean bench info model bcdi-model

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

# Retrain the shipped BCDI 3D inpainting model (hifft/bcdi/models/inpaint_3d.pt, 75 min wall
# clock on 2 cores, simulation included; run it alone); its training record lands beside it.
bcdi-model: $(STAMP)
	$(BIN)/hifft bcdi train-inpaint pipelines/bcdi_inpaint_3d.yaml --out out/bcdi/inpaint_3d
	mkdir -p hifft/bcdi/models
	cp out/bcdi/inpaint_3d/model.pt hifft/bcdi/models/inpaint_3d.pt
	cp out/bcdi/inpaint_3d/model.json hifft/bcdi/models/inpaint_3d.json

# Image codecs (issue 15): the GISAXS image set (~30 min on 2 cores), four codecs trained one after
# another (mean–scale clean and denoising, factorized, scale hyperprior: 66 min), then the rate–
# distortion, science and latent benchmark and its report. Run it alone; each step resumes.
IMG_TRAIN = $(BIN)/hifft images train pipelines/images_codec.yaml
image-codecs: $(STAMP)
	$(BIN)/hifft gisaxs dataset pipelines/gisaxs_codec.yaml out/gisaxs_codec.zarr --client local
	HIFFT_TRAIN__MINUTES=26 HIFFT_TRAIN__THREADS=2 $(IMG_TRAIN)
	HIFFT_TRAIN__MINUTES=20 HIFFT_TRAIN__THREADS=2 HIFFT_MODEL__NAME=msh_denoise HIFFT_MODEL__MASK_CHANNEL=true \
	  HIFFT_TRAIN__OUT=out/images/msh_denoise HIFFT_TRAIN__AUGMENT__FLUX='[1.0e+8, 1.0e+10]' \
	  HIFFT_TRAIN__AUGMENT__GAPS=dataset $(IMG_TRAIN)
	HIFFT_TRAIN__MINUTES=10 HIFFT_TRAIN__THREADS=2 HIFFT_MODEL__NAME=fp HIFFT_MODEL__KIND=factorized \
	  HIFFT_TRAIN__OUT=out/images/fp $(IMG_TRAIN)
	HIFFT_TRAIN__MINUTES=10 HIFFT_TRAIN__THREADS=2 HIFFT_MODEL__NAME=hp HIFFT_MODEL__KIND=hyperprior \
	  HIFFT_TRAIN__OUT=out/images/hp $(IMG_TRAIN)
	$(BIN)/python benchmarks/image_codecs.py --dataset out/gisaxs_codec.zarr --models out/images/msh/model.pt \
	  out/images/msh_denoise/model.pt out/images/fp/model.pt out/images/hp/model.pt
	$(BIN)/python benchmarks/image_codecs_report.py
	$(BIN)/python benchmarks/image_codec_speed.py --dataset out/gisaxs_codec.zarr
	mkdir -p hifft/images/models
	for m in msh msh_denoise; do cp out/images/$$m/model.pt hifft/images/models/gisaxs_$$m.pt; \
	  cp out/images/$$m/model.json hifft/images/models/gisaxs_$$m.json; done

# Droplet classifier (issue 17): 40 000 labelled images (~16 min on 2 cores), a noise-trained CCF-input
# model (25 min) and an image model with the log first activation (30 min), their ensembles (weights
# chosen on the validation split, and equal; thresholds from that split), a LeakyReLU image model (30 min,
# the seed's comparison), the test-split evaluation and its report. Run it alone; each step resumes.
CLF = pipelines/diffraction_classifier.yaml
CLF_DIR = out/diffraction
classifier: $(STAMP)
	$(BIN)/hifft diffraction dataset pipelines/diffraction_default.yaml $(CLF_DIR)/droplets.zarr --client local
	HIFFT_TRAIN__AUGMENT__NOISE=3 $(BIN)/hifft diffraction train $(CLF) --input ccf --minutes 25 \
	  --out $(CLF_DIR)/clf_ccf_orders
	HIFFT_TRAIN__AUGMENT__NOISE=3 HIFFT_CCF__ORDERS="[]" $(BIN)/hifft diffraction train $(CLF) --input ccf \
	  --minutes 25 --out $(CLF_DIR)/clf_ccf
	$(BIN)/hifft diffraction train $(CLF) --minutes 30 --out $(CLF_DIR)/clf_log
	$(BIN)/hifft diffraction train $(CLF) --minutes 30 --first-activation relu --out $(CLF_DIR)/clf_relu
	$(BIN)/hifft diffraction ensemble $(CLF_DIR)/clf_log/model.pt $(CLF_DIR)/clf_ccf_orders/model.pt \
	  $(CLF_DIR)/droplets.zarr --out $(CLF_DIR)/clf_ensemble_orders
	$(BIN)/hifft diffraction ensemble $(CLF_DIR)/clf_log/model.pt $(CLF_DIR)/clf_ccf/model.pt \
	  $(CLF_DIR)/droplets.zarr --out $(CLF_DIR)/clf_ensemble
	$(BIN)/hifft diffraction evaluate $(CLF_DIR)/clf_ccf_orders/model.pt $(CLF_DIR)/clf_ensemble_orders/model.pt \
	  $(CLF_DIR)/clf_ccf/model.pt $(CLF_DIR)/clf_log/model.pt $(CLF_DIR)/clf_relu/model.pt \
	  $(CLF_DIR)/clf_ensemble/model.pt $(CLF_DIR)/droplets.zarr --config $(CLF) \
	  --json benchmarks/results/classifier.json
	$(BIN)/python benchmarks/diffraction_report.py
	HIFFT_DATASET__SEED=7 HIFFT_DATASET__N_SAMPLES=4000 HIFFT_DATASET__SPLIT="{train: 0, val: 0, test: 1}" \
	  $(BIN)/hifft diffraction dataset pipelines/diffraction_default.yaml $(CLF_DIR)/fresh_test.zarr --client local
	$(BIN)/hifft diffraction evaluate $(CLF_DIR)/clf_ccf_orders/model.pt $(CLF_DIR)/clf_ccf/model.pt \
	  $(CLF_DIR)/clf_ensemble/model.pt $(CLF_DIR)/fresh_test.zarr --config $(CLF) \
	  --json benchmarks/results/classifier_fresh.json
	$(BIN)/python benchmarks/diffraction_report.py --json benchmarks/results/classifier_fresh.json

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fft.py

clean:
	rm -rf $(VENV) out *.egg-info
