# MedGemma Vision Lab — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
PY := .venv/bin/python
QUESTION ?= The capital of France is

.PHONY: setup build release run ask test test-swift test-python lint format clean fuzz load

setup:
	@./scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

# Runs the lab: with MedGemma when its files are in ~/.cache/medlab/models, otherwise the demo model.
run: release
	@./scripts/run-lab.sh

PYTEST_DIRS := $(wildcard Tests/python Tests/imaging_py Tests/browser)

# Every test: Swift unit and end-to-end tests, then the Python tests (API clients, batch,
# pydicom comparisons, a real headless browser) against the real binary.
test: lint build
	$(SWIFT) test
	MEDLAB_BIN=$$($(SWIFT) build --show-bin-path)/medlab $(PY) -m pytest -q $(PYTEST_DIRS)

SWIFT_FILES := Sources Tests bench Package.swift

# The code's one formatting (.swift-format); `make format` applies it, `make lint` (part of
# `make test`) fails on any difference.
lint:
	$(SWIFT) format lint --strict --recursive --parallel $(SWIFT_FILES)

format:
	$(SWIFT) format format --in-place --recursive --parallel $(SWIFT_FILES)

# The loopback load test (bench/load, issue #19): 64 clients for 60 s against the demo model;
# `make load LOAD_ARGS="--soak-seconds 600"` adds the 10-minute soak and its memory rule.
load: build
	MEDLAB_BIN=$$($(SWIFT) build --show-bin-path)/medlab bash bench/load/run.sh $(LOAD_ARGS)

# libFuzzer + AddressSanitizer over every parser of outside input (bench/fuzz): builds once in
# .build-fuzz, runs each target FUZZ_SECONDS (FUZZ_TARGETS picks some), fails on any crash, hang
# over 10 s, out-of-memory or leak.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) bench/fuzz/run.sh $(FUZZ_TARGETS)

clean:
	rm -rf .build .build-fuzz
