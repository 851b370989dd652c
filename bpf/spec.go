//go:build linux && (386 || amd64 || arm64 || s390x || arm)

package bpf

import "github.com/cilium/ebpf"

// Spec returns the probes compiled for this GOARCH.
func Spec() (*ebpf.CollectionSpec, error) { return loadProbes() }

// TargetMap holds, at key 0, the thread whose calls the probes report.
const TargetMap = "target"

// EventsMap is the ring buffer the probes write to.
const EventsMap = "events"

// OracleProgram is the raw_syscalls/sys_enter tracepoint program: the
// second oracle, independent of pt_regs conventions.
const OracleProgram = "oracle_sys_enter"
