# Portcullis - developer entry points (GNU make; Debian 12, run as root for `deps`).
#
#   make run     install missing build packages, release build, gateway on config/portcullis.yaml
#                with two demo echo backends (127.0.0.1:9001, :9002); then: curl localhost:8080/
#   make test    install missing build + test packages, build the tests, run them
#   make bench   install missing bench tools, release build, side-by-side benchmark (bench/run.sh)
#   make certs   dev CA + leaf certificates into certs/ (certs/generate.sh)
#   make clean   remove .build
#
# The Swift toolchain itself is not an apt package on Debian 12; install it from swift.org
# (or with swiftly) and make sure `swift` is on PATH.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# apt packages, by purpose
DEPS_BUILD := libssl-dev libnghttp2-dev liblua5.4-dev libyaml-dev zlib1g-dev libbrotli-dev pkg-config openssl
DEPS_TEST  := curl nghttp2-client openssl redis-server python3 python3-h2 python3-grpcio chromium
DEPS_BENCH := wrk nginx haproxy h2o hey nghttp2-client curl openssl python3
DEPS_CERTS := openssl

SWIFT       ?= swift
CONFIG      ?= config/portcullis.yaml
RELEASE_BIN := $(CURDIR)/.build/release/portcullis

# $(call apt_ensure,PACKAGES): install only the packages dpkg does not report as installed;
# `apt-get update` runs once, and only when something is missing. Non-interactive.
define apt_ensure
missing=""; \
for p in $(sort $(1)); do \
  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "installing missing packages:$$missing"; \
  export DEBIAN_FRONTEND=noninteractive; \
  apt-get update -q; \
  apt-get install -y -q --no-install-recommends $$missing; \
fi
endef

.PHONY: deps deps-build deps-test deps-bench build run test bench certs clean check-swift

deps:                ## build + test packages
	@$(call apt_ensure,$(DEPS_BUILD) $(DEPS_TEST))

deps-build:
	@$(call apt_ensure,$(DEPS_BUILD))

deps-test:           ## the test set includes the build set
	@$(call apt_ensure,$(DEPS_BUILD) $(DEPS_TEST))

deps-bench:          ## the bench set includes the build set
	@$(call apt_ensure,$(DEPS_BUILD) $(DEPS_BENCH))

check-swift:
	@command -v $(SWIFT) >/dev/null || { echo "swift not found on PATH; install the Swift toolchain (https://www.swift.org/install/linux/)" >&2; exit 1; }

# Release builds skip Swift's dynamic exclusivity checks in every module, dependencies included: the
# gateway's state is confined to event loops, and the checks cost several percent per request.
RELEASE_FLAGS := -c release -Xswiftc -enforce-exclusivity=unchecked

build: check-swift
	$(SWIFT) build $(RELEASE_FLAGS) --product portcullis

run: deps-build
	@$(MAKE) --no-print-directory build
	certs/generate.sh >/dev/null
	PORTCULLIS_BIN='$(RELEASE_BIN)' CONFIG='$(CONFIG)' scripts/run-demo.sh

# Tests run one at a time: each starts real gateways, backends and client processes, and many call
# blocking tools (curl, openssl) from Swift's small cooperative pool; run side by side on a 2-core box they
# starve each other's timers. One at a time the suite takes about 1.5 minutes and is deterministic.
test: deps check-swift
	certs/generate.sh >/dev/null
	ulimit -n 65536 2>/dev/null || ulimit -n "$$(ulimit -Hn)" 2>/dev/null || true; \
	echo "open files limit: $$(ulimit -n)"; \
	$(SWIFT) build --build-tests; \
	$(SWIFT) test --skip-build --no-parallel

# Knobs pass through the environment: SCENARIOS ROUNDS DUR MEM PIN TARGETS GW_PLAIN_ONLY ... (see bench/run.sh)
#   quick look: SCENARIOS=a ROUNDS=3 MEM=0 make bench
bench: deps-bench
	@$(MAKE) --no-print-directory build
	cd bench && GATEWAY_CMD='exec "$(RELEASE_BIN)" run --config "$$GW_CONFIG"' ./run.sh

certs:
	@$(call apt_ensure,$(DEPS_CERTS))
	certs/generate.sh $(CERTS_ARGS)

clean:
	rm -rf .build
