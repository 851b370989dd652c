//go:build linux && (386 || amd64 || arm64 || s390x)

package bpf

import "github.com/cilium/ebpf"

// Spec returns the probes compiled for this GOARCH.
func Spec() (*ebpf.CollectionSpec, error) { return loadProbes() }

// TargetTIDVar is the global each probe compares the calling thread with.
const TargetTIDVar = "target_tid"

// EventsMap is the ring buffer the probes write to.
const EventsMap = "events"
