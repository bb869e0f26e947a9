# Smart bin: every user-facing job is a target here, a thin shell over `smartbin`.
# Set-up is automatic: the first target that needs Python creates .venv with the pinned
# dependencies of requirements.lock; tests also install the pinned MicroPython VM from npm.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SMARTBIN := $(VENV)/bin/smartbin
BUILD ?= build
# DATA: a folder of class folders. Empty means: download TrashNet into data/trashnet.
DATA ?=
DATASET := $(if $(DATA),$(DATA),data/trashnet)
# DRINKING_WASTE: where `make data` puts the drinking-waste crops (cans and PET bottles on
# everyday surfaces), downloaded and checked like TrashNet. Empty means: do not get them.
DRINKING_WASTE ?= data/drinking_waste
# The model to deploy/simulate: the one you trained, else the committed default.
MODEL ?= $(if $(wildcard $(BUILD)/model/model.tflite),$(BUILD)/model,models/default)
PORT ?=
FIRMWARE ?=
IMAGES ?=
# PHOTOS: the drop folder of `make try` (default build/try/drop)
PHOTOS ?=
PYTEST_ARGS ?=
# WEIGHTS: MobileNetV1 ImageNet weights file for offline machines (default: Keras cache,
# else download). TRAIN_ARGS / EXPORT_ARGS: extra options, e.g. TRAIN_ARGS="--epochs 40".
WEIGHTS ?=
TRAIN_ARGS ?=
# MINE: your own photos (class folders, e.g. from `make capture`), weighted so that 30 per
# class count against TrashNet's thousands. BACKGROUNDS: photos of empty surfaces (e.g. the
# bin's empty chamber) to put training items on. OOD: extra test folders for `make bench`.
MINE ?=
BACKGROUNDS ?=
OOD ?=
BENCH_ARGS ?=
EXPORT_ARGS ?=
# BIN_CONFIG: the bin whose lids the sorting threshold is fitted for (its class-to-lid map);
# empty means one lid per recycling class, the strictest grouping.
BIN_CONFIG ?= firmware/config.json

.PHONY: help venv node browser model data split train export evaluate test bench simulate try power \
        flash deploy selftest servo pull-images capture monitor preview firmware firmware-host clean

help:
	@echo "set-up (automatic, the first target that needs them runs them)"
	@echo "make venv                  the Python environment .venv, pinned by requirements.lock"
	@echo "make node                  the MicroPython VM from npm (for make try and the tests)"
	@echo "make browser               headless Chromium for the tests of the pages"
	@echo "the model: data -> split -> train -> export -> evaluate, each redone only when its inputs change"
	@echo "make model [DATA=DIR] [MINE=DIR] [BACKGROUNDS=DIR]  get data, train, int8, export, evaluate"
	@echo "make data [DATA=DIR]       download TrashNet and the drinking-waste photos, or check DATA"
	@echo "make split                 split the photos into train, validation and test (build/split.json)"
	@echo "make train [TRAIN_ARGS=..] train the network (build/train)"
	@echo "make export [EXPORT_ARGS=..] [BIN_CONFIG=..]  int8 model, model.json, threshold for the bin's lids"
	@echo "make evaluate              score the exported model on the test photos (build/model/report.md)"
	@echo "make bench [DATA=DIR] [OOD=DIR]  measure model operating points, also off TrashNet"
	@echo "make test                  run the test suite"
	@echo "the bin on this computer"
	@echo "make simulate IMAGES=DIR   run the bin's firmware on photos, on this computer"
	@echo "make try [PHOTOS=DIR]      a virtual bin: drop photos in build/try/drop, watch it sort"
	@echo "make power                 estimate battery life from firmware/config.json"
	@echo "the board"
	@echo "make flash PORT=.. FIRMWARE=..   write MicroPython firmware to the board"
	@echo "make deploy PORT=.. [MPY=1]  copy application, model and config to the board"
	@echo "make selftest PORT=..      open and close every lid, blink the LEDs, one photo and inference"
	@echo "make servo PORT=.. LID=paper US=1500   hold one lid at a pulse width (calibration)"
	@echo "make pull-images PORT=.. [MOVE=1]  copy the bin's debug frames into data/inbox"
	@echo "make capture PORT=.. LABEL=..  take photos with the bin's camera into a class folder"
	@echo "make monitor PORT=..       show the board's error log and output"
	@echo "make preview PORT=..       the bin's camera, scores and lid live in the browser (aiming)"
	@echo "make firmware              build the TFLM + camera MicroPython image"
	@echo "make firmware-host         build the same C stack as a MicroPython for this computer"
	@echo "make clean                 remove build/ (trained model, caches of the build)"
	@echo "make help                  this list"

$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 12) else "needs Python 3.11 or 3.12 (the pinned TensorFlow, Keras, Pillow), not %d.%d: make PYTHON=python3.12 ..." % v)'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.lock
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: node_modules/.installed

# ---- host toolchain: data -> split -> train -> export -> evaluate -------------------
# Each step is a file in $(BUILD), redone only when what it is made from changed: the
# options above and the photo folders you gave (DATA, MINE, BACKGROUNDS: names, sizes,
# times; the downloaded ones are checked by their checksums). So `make evaluate` after
# `make model` only scores again, and `make model` twice trains once.
MODEL_INPUTS = DATA=$(DATA) DRINKING_WASTE=$(DRINKING_WASTE) MINE=$(MINE) \
	BACKGROUNDS=$(BACKGROUNDS) WEIGHTS=$(WEIGHTS) TRAIN_ARGS=$(TRAIN_ARGS) \
	photos=$(shell find $(DATA) $(MINE) $(BACKGROUNDS) -type f \
		-printf '%s %T@ %p\n' 2>/dev/null | sort | cksum)

# Rewritten only when its text changes, so its time says when the inputs last changed.
$(BUILD)/model-inputs.txt: export SMARTBIN_INPUTS = $(MODEL_INPUTS)
$(BUILD)/export-inputs.txt: export SMARTBIN_INPUTS = EXPORT_ARGS=$(EXPORT_ARGS) BIN_CONFIG=$(BIN_CONFIG)
$(BUILD)/model-inputs.txt $(BUILD)/export-inputs.txt: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' "$$SMARTBIN_INPUTS" | cmp -s - $@ 2>/dev/null || printf '%s\n' "$$SMARTBIN_INPUTS" > $@

FORCE:

$(BUILD)/data.done: $(BUILD)/model-inputs.txt | $(VENV)/.installed
ifeq ($(DATA),)
	$(SMARTBIN) data trashnet --dest data/trashnet
else
	$(SMARTBIN) data check $(DATA)
endif
ifneq ($(DRINKING_WASTE),)
	$(SMARTBIN) data drinking-waste --dest $(DRINKING_WASTE)
endif
	@touch $@

$(BUILD)/split.json: $(BUILD)/data.done
	$(SMARTBIN) data split $(DATASET) --out $@

$(BUILD)/train/model.keras: $(BUILD)/split.json
	$(SMARTBIN) train $(DATASET) --split $(BUILD)/split.json --out $(BUILD)/train \
		--cache $(BUILD)/cache $(if $(WEIGHTS),--weights $(WEIGHTS)) \
		$(if $(DRINKING_WASTE),--drinking-waste $(DRINKING_WASTE)) \
		$(if $(MINE),--mine $(MINE)) $(if $(BACKGROUNDS),--backgrounds $(BACKGROUNDS)) \
		$(TRAIN_ARGS)

$(BUILD)/model/model.tflite: $(BUILD)/train/model.keras $(BUILD)/export-inputs.txt $(wildcard $(BIN_CONFIG))
	$(SMARTBIN) export $(BUILD)/train --data $(DATASET) --split $(BUILD)/split.json --out $(BUILD)/model \
		$(if $(BIN_CONFIG),--config $(BIN_CONFIG)) $(EXPORT_ARGS)

$(BUILD)/model/report.md: $(BUILD)/model/model.tflite
	$(SMARTBIN) evaluate --model $(BUILD)/model --data $(DATASET) --split $(BUILD)/split.json --report \
		$(if $(BIN_CONFIG),--config $(BIN_CONFIG))

data: $(BUILD)/data.done
split: $(BUILD)/split.json
train: $(BUILD)/train/model.keras
export: $(BUILD)/model/model.tflite
evaluate: $(BUILD)/model/report.md
model: evaluate

bench: venv
	$(SMARTBIN) bench $(if $(DATA),--data $(DATA)) --out $(BUILD)/bench --cache $(BUILD)/cache \
		$(if $(wildcard $(DRINKING_WASTE)),--drinking-waste $(DRINKING_WASTE)) \
		$(if $(WEIGHTS),--weights $(WEIGHTS)) $(foreach dir,$(OOD),--ood $(dir)) $(BENCH_ARGS)

# ---- tests ---------------------------------------------------------------------------
test: venv node browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Headless Chromium (Debian's packages) for the tests that open the pages the tools make.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium and chromium-driver for the page tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "the tests need headless Chromium: sudo apt-get install chromium chromium-driver" >&2; exit 2; \
	  fi; }

# ---- the bin on this computer --------------------------------------------------------
simulate: venv
	@test -n "$(IMAGES)" || { echo "usage: make simulate IMAGES=folder-of-photos [MODEL=model-folder]" >&2; exit 2; }
	$(SMARTBIN) simulate "$(IMAGES)" --model "$(MODEL)"

# The whole bin on a virtual board (its port works with every board target): drop photos
# into build/try/drop (or PHOTOS=DIR) and each one is an item. Ctrl-C stops it.
try: venv node
	$(SMARTBIN) try --model "$(MODEL)" $(if $(PHOTOS),--photos "$(PHOTOS)")

power: venv
	$(SMARTBIN) power --config firmware/config.json

# ---- the board -----------------------------------------------------------------------
flash: venv
	$(SMARTBIN) flash --port "$(PORT)" "$(FIRMWARE)"

deploy: venv
	$(SMARTBIN) deploy --port "$(PORT)" --model $(MODEL) $(if $(MPY),--mpy)

selftest: venv
	$(SMARTBIN) selftest --port "$(PORT)"

servo: venv
	$(SMARTBIN) servo --port "$(PORT)" --lid "$(LID)" --us "$(US)"

pull-images: venv
	$(SMARTBIN) pull --port "$(PORT)" --dest data/inbox $(if $(MOVE),--move)

# Photos with the bin's own camera: make capture PORT=.. LABEL=battery N=30 [DATA=data/mine]
capture: venv
	$(SMARTBIN) capture --port "$(PORT)" --label "$(LABEL)" -n $(or $(N),10) --data $(or $(DATA),data/captured)

monitor: venv
	$(SMARTBIN) monitor --port "$(PORT)"

preview: venv
	$(SMARTBIN) preview --port "$(PORT)" --model "$(MODEL)"

firmware:
	@$(MAKE) --no-print-directory -C firmware/image

# The image's MicroPython and microlite/TFLM built for this computer (cached under
# ~/.cache/smartbin); `make test` runs the firmware on it. SMARTBIN_FW_SOURCES=DIR: take
# the pinned sources from a folder of source archives instead of GitHub.
firmware-host:
	@bash firmware/image/build_host.sh

clean:
	rm -rf $(BUILD) .pytest_cache
