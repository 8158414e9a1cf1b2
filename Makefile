# The README's test command is `make test`: it installs the servers the
# integration tests need (redis-server, redis-tools, memcached,
# postgresql, mariadb-server) and the browser of the example's test
# (chromium) from Debian's packages when they are missing and apt-get is
# there, checks
# formatting, go vet and staticcheck, then runs every test with the race
# detector, integration included, and each fuzz target briefly (fuzz-ci;
# `make fuzz` runs them for a minute each). The allocation tests
# (build tag !race: the race detector empties sync.Pools at random) run in
# a pass of their own without -race.
# Packages run one at a time (-p 1): the fault-injection tests measure
# request latencies against store timeouts, and on a 2-core machine other
# packages' race-instrumented tests running beside them distort that.

GO ?= go
PKGS := ./...
SERVERS := redis-server redis-cli memcached

# STATICCHECK is honnef.co/go/tools' linter, pinned; `go run` fetches it
# through the module proxy on first use.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test deps vet fmt-check lint unit example bench soak

test: deps fmt-check vet lint
	$(GO) test -race -count=1 -p 1 -timeout 20m $(PKGS)
	$(GO) test -count=1 -run 'Alloc' . ./internal/core
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd otelsessions && $(GO) vet ./... && $(STATICCHECK) ./... && $(GO) test -race -count=1 ./... && $(GO) test -count=1 -run 'Alloc' .
	@$(MAKE) --no-print-directory fuzz-ci

# deps installs the servers and the browser the tests need, from
# Debian's packages, or says exactly what to install. PostgreSQL's
# binaries live in /usr/lib/postgresql/<version>/bin, off PATH; the tests
# find them there.
DEB_PACKAGES := redis-server redis-tools memcached postgresql mariadb-server chromium

deps:
	@missing=""; \
	for b in $(SERVERS) mariadbd mariadb-install-db chromium; do command -v $$b >/dev/null 2>&1 || missing="$$missing $$b"; done; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 || missing="$$missing postgres"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "missing:$$missing"; \
	if command -v apt-get >/dev/null 2>&1; then \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null && \
		echo "installed $(DEB_PACKAGES)"; \
	else \
		echo "install them first: Debian/Ubuntu: apt-get install $(DEB_PACKAGES);"; \
		echo "macOS: brew install redis memcached postgresql mariadb chromium. Without them the integration tests skip (and fail when CI is set)."; \
		[ -z "$$CI" ] || exit 1; \
	fi

vet:
	$(GO) vet $(PKGS)

lint:
	$(STATICCHECK) $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# unit runs the tests that need no server binaries.
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e /integration -e /drivers/postgres -e /drivers/mysql)

example:
	$(GO) run ./examples/basic

# bench runs the load harness (bench/, its own module): this project's
# drivers beside gin-contrib/sessions and scs, ratios to bare Gin measured
# in one run; results go to bench/results/ and the tables to bench/README.md.
bench:
	$(MAKE) -C bench bench

# soak runs the soak (bench/cmd/soak; not part of make test): mixed
# traffic at 100,000 live sessions for DURATION (10m) on each of BACKENDS,
# failing on a failed request or on RSS or goroutines growing over 10%.
# make soak BACKENDS=redis,postgres DURATION=30m
soak:
	$(MAKE) -C bench soak

# fuzz runs each native fuzz target for FUZZTIME, one after another, after
# its seed corpus in the package's testdata/fuzz/; a failing input is
# written to testdata/fuzz/<target>/ of its package and stops the run.
# FUZZ_TARGETS lists package:target. fuzz-ci runs each for FUZZTIME_CI,
# briefly, for CI.
FUZZTIME ?= 1m
# A count, not a duration: with a short -fuzztime duration the fuzzing
# engine can stop a worker mid-start and report "context deadline
# exceeded" as a failure; a count of inputs has no deadline.
FUZZTIME_CI ?= 1000x
FUZZ_TARGETS := .:FuzzOpen .:FuzzOpenSecret .:FuzzRedactDSN .:FuzzCookie .:FuzzConfigFromEnv \
	.:FuzzParseEncryptionKeys .:FuzzRequestID .:FuzzJSONCodecFast \
	./internal/core:FuzzStoredRecord ./internal/core:FuzzDecodeRecord ./internal/core:FuzzValidID \
	./contrib:FuzzGobCodecUnmarshal

.PHONY: fuzz fuzz-ci

fuzz:
	@for pt in $(FUZZ_TARGETS); do \
		p=$${pt%%:*}; t=$${pt#*:}; \
		echo "fuzz $$t in $$p for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
	done

fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_CI)
