# ksystest: the two commands a new user needs are `make vmtest` (run the
# default matrix) and `make test` (the test suite, VM tests included).
# Both install what they need first (see .ci/install-deps).

GO        ?= go
BIN       := bin
LIBBPF    := bpf/.libbpf/usr/include
# Extra flags for `ksystest run` in `make vmtest`, e.g. ARGS='--only arm64*'.
ARGS      ?=
# How long `make fuzz` runs each fuzz target, and how long Go may minimize
# each new interesting input (its default, a minute, leaves a short run
# little time to fuzz).
FUZZTIME  ?= 15s
FUZZMINIMIZETIME ?= 200x

.PHONY: all deps build vmtest test unit fuzz fresh-root lint generate generate-check syscalls clean FORCE

all: build

deps:
	@.ci/install-deps

# One binary: it carries the source of its guest programs (the agent and
# the compat helper) and builds them per guest arch on first use, cached.
build: $(BIN)/ksystest

$(BIN)/ksystest: FORCE
	$(GO) build -o $@ ./cmd/ksystest

vmtest: deps build
	$(BIN)/ksystest run $(ARGS)

test: deps lint
	$(GO) test -race -timeout 60m ./...

# Hermetic tests only: -short skips every VM test, CI=true or not.
unit:
	$(GO) test -short ./...

# Every fuzz target in the repository, one at a time, each for FUZZTIME,
# then a table of executions and results per target (.ci/fuzz).
fuzz:
	@GO='$(GO)' FUZZTIME='$(FUZZTIME)' FUZZMINIMIZETIME='$(FUZZMINIMIZETIME)' .ci/fuzz

# The README's first command on a clean Debian 12 root from a clone of
# HEAD (mmdebstrap, chroot, no KVM; needs root): .ci/fresh-root.
fresh-root:
	.ci/fresh-root $(ARGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting" >&2; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GO) tool actionlint

# Regenerate ksystest's probe objects (committed, bpf/obj/) for every BPF
# target of the arch table. Needs clang and llvm-strip; fetches libbpf
# >= 1.2 headers from Debian, verified like kernels.
generate: $(LIBBPF)
	@.ci/install-deps --generate
	$(GO) run ./internal/cmd/genprobes

$(LIBBPF):
	$(GO) run ./internal/cmd/debextract -suite trixie -package libbpf-dev -path usr/include/bpf -out bpf/.libbpf

# CI: regenerating must not change the committed objects.
generate-check: generate
	git diff --exit-code -- bpf/

# Regenerate harness/syscalls' tables (committed) from the syscall tables
# of Debian's kernel source package, verified like kernels, and each entry
# point's parameters from its definitions in the same source; cached
# after the first run.
syscalls:
	$(GO) generate ./harness/syscalls

clean:
	rm -rf $(BIN) ksystest-out
