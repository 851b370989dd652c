# ksystest: the two commands a new user needs are `make vmtest` (run the
# default matrix) and `make test` (the test suite, VM tests included).
# Both install what they need first (see .ci/install-deps).

GO        ?= go
BIN       := bin
GOARCHES  := amd64 arm64 s390x arm
AGENTS    := $(addprefix $(BIN)/ksystest-agent.,$(GOARCHES)) $(BIN)/ksystest-compat.386 $(BIN)/ksystest-compat.arm
LIBBPF    := bpf/.libbpf/usr/include
# Extra flags for `ksystest run` in `make vmtest`, e.g. ARGS='--only arm64*'.
ARGS      ?=

.PHONY: all deps build vmtest test unit lint generate generate-check syscalls clean FORCE

all: build

deps:
	@.ci/install-deps

build: $(BIN)/ksystest $(AGENTS)

$(BIN)/ksystest: FORCE
	$(GO) build -o $@ ./cmd/ksystest

# The agent is PID 1 in the guest: static, stripped, one per guest arch.
$(BIN)/ksystest-agent.%: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* GOARM=7 $(GO) build -trimpath -ldflags='-s -w' -o $@ ./cmd/ksystest-agent

# The 32-bit helper of compat cases: i386 programs on x86_64, arm on arm64.
$(BIN)/ksystest-compat.%: FORCE
	CGO_ENABLED=0 GOOS=linux GOARCH=$* GOARM=7 $(GO) build -trimpath -ldflags='-s -w' -o $@ ./cmd/ksystest-compat

vmtest: deps build
	$(BIN)/ksystest run $(ARGS)

test: deps lint
	$(GO) test -race -timeout 60m ./...

unit:
	$(GO) test -short ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting" >&2; exit 1; }
	$(GO) vet ./...
	$(GO) tool actionlint

# Regenerate the bpf2go output (committed). Needs clang; fetches libbpf
# >= 1.2 headers from Debian, verified like kernels.
generate: $(LIBBPF)
	@.ci/install-deps --generate
	$(GO) generate ./bpf/...

$(LIBBPF):
	$(GO) run ./internal/cmd/debextract -suite trixie -package libbpf-dev -path usr/include/bpf -out bpf/.libbpf

# CI: regenerating must not change the committed objects.
generate-check: generate
	git diff --exit-code -- bpf/

# Regenerate harness/syscalls' tables (committed) from the syscall tables
# of Debian's kernel source package, verified like kernels; cached after
# the first run.
syscalls:
	$(GO) generate ./harness/syscalls

clean:
	rm -rf $(BIN) ksystest-out
