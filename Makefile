# vsoc — see README.md. Everything a test needs is installed or built by
# these targets; heavy test binaries are cached in .cache/ (git-ignored).
GO      ?= go
BIN     := bin
OUT     ?= out
FLEET   ?= customers
export GOTOOLCHAIN := local

.PHONY: all build test test-deps vet demo bench bench-go bench-fleet bench-proxy clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/vsoc-compile ./cmd/vsoc-sniproxy

test-deps:
	@bash scripts/test-deps.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

test: test-deps vet
	$(GO) test -timeout 45m ./...
	cd testdata/tools/netpol-oracle && $(GO) vet ./... && $(GO) test ./...

# The main job on the bundled fleet: validate, print the plan, build OUT.
demo: build
	$(BIN)/vsoc-compile validate $(FLEET)
	@echo
	$(BIN)/vsoc-compile plan $(FLEET)
	@echo
	$(BIN)/vsoc-compile build $(FLEET) -o $(OUT)

# Go benchmarks (fleet-scale ones run once: a 10,000-customer build takes
# seconds), then the whole-command figures and the proxy against its peers.
bench: bench-go bench-fleet bench-proxy

bench-go:
	$(GO) test -run '^$$' -bench . -benchtime 1x -benchmem -timeout 60m ./compiler/ ./validate/ ./render/... ./diff/ ./sniproxy/

bench-fleet:
	bash bench/fleet.sh

bench-proxy: test-deps
	bash bench/run.sh

clean:
	rm -rf $(BIN) $(OUT)
