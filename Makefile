# probed — build, test and check.
# `make test` installs the system packages the tests need when run as root
# (openssl, promtool, alertmanager, chromium, postgresql), then runs gofmt -l and vet, the tests and
# the rule checks.

GO ?= go
export GOTOOLCHAIN := local
# Tests that need a system program (openssl, promtool, prometheus,
# alertmanager, chromium, PostgreSQL) skip when it is missing; here they fail instead,
# so CI never skips (internal/testtool).
export PROBED_REQUIRE_TOOLS := 1
# Debian packages the tests use, by the command that proves each is there.
SYSTEM_DEPS := openssl:openssl promtool:prometheus prometheus-alertmanager:prometheus-alertmanager chromium:chromium python3:python3 npm:npm
# Debian keeps PostgreSQL's server programs off PATH, in /usr/lib/postgresql/N/bin
# (internal/pgtest looks there).
PG_INITDB := $(wildcard /usr/lib/postgresql/*/bin/initdb)

.PHONY: all build test deps vet unit rules fuzz bench demo

all: build

build:
	$(GO) build ./...

deps:
	@missing=""; for pair in $(SYSTEM_DEPS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -z "$(PG_INITDB)" ] && ! command -v initdb >/dev/null 2>&1; then missing="$$missing postgresql"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing system packages:$$missing (run make test as root, or apt-get install them)"; exit 1; fi; \
	fi

vet:
	@unformatted=$$("$$($(GO) env GOROOT)/bin/gofmt" -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 30m ./...

rules:
	@set -e; rules=$$(ls prometheus/*.rules.yml 2>/dev/null || true); \
	if [ -n "$$rules" ]; then promtool check rules $$rules; fi; \
	tests=$$(ls prometheus/tests/*.yml 2>/dev/null || true); \
	if [ -n "$$tests" ]; then promtool test rules $$tests; fi

# Every fuzz target for a few seconds (bench/fuzz.sh runs them longer).
fuzz:
	FUZZTIME=$${FUZZTIME:-3s} GO=$(GO) bench/fuzz.sh

test: deps vet unit rules fuzz

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo:
	$(GO) run ./cmd/probed demo
