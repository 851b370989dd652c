// Package bpf holds the syscall probes and their bpf2go output, one object
// per guest arch. Only the guest agent imports it: the host never links
// cilium/ebpf.
//
// Regenerate with `make generate`: it installs clang, fetches libbpf 1.5's
// headers from Debian into bpf/.libbpf (BPF_KSYSCALL takes six arguments
// only from libbpf 1.2 on, newer than Debian 12's libbpf-dev), then runs
// `go generate ./bpf/...`.
package bpf

//go:generate go tool bpf2go -tags linux -target amd64,arm64,s390x probes c/probes.c -- -O2 -g -Wall -Werror -I./c -I./.libbpf/usr/include
