// Package bpf holds the syscall probes and their bpf2go output, one object
// per guest arch. Only the guest agent imports it: the host never links
// cilium/ebpf.
//
// Regenerate with `make generate` (it fetches libbpf ≥ 1.2 headers first:
// BPF_KSYSCALL takes six arguments only from libbpf 1.2 on), or by hand:
//
//	LIBBPF_INCLUDE=/path/to/include go generate ./bpf/...
package bpf

//go:generate go tool bpf2go -tags linux -target amd64,arm64,s390x probes c/probes.c -- -O2 -g -Wall -Werror -I./c -I${LIBBPF_INCLUDE}
