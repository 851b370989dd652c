// Package bpf holds the syscall probes and their bpf2go output, one object
// per guest arch. Only the guest agent imports it: the host never links
// cilium/ebpf.
//
// Regenerate with `make generate`: it installs clang, fetches libbpf 1.5's
// headers from Debian into bpf/.libbpf (BPF_KSYSCALL takes six arguments
// only from libbpf 1.2 on, newer than Debian 12's libbpf-dev), then runs
// `go generate ./bpf/...`.
//
// -Wno-int-to-pointer-cast: on 32-bit arm, BPF_KSYSCALL's wrapper branch
// (never taken there: arm has no syscall wrapper) casts a 32-bit register
// to a pointer.
package bpf

//go:generate go tool bpf2go -tags linux -target amd64,arm64,s390x,arm probes c/probes.c -- -O2 -g -Wall -Werror -Wno-int-to-pointer-cast -I./c -I./.libbpf/usr/include
