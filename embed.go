// Package ksystest carries what an installed ksystest needs besides its
// code: the default matrix and case catalogue, ksystest's own probe
// objects and headers, and the source of the guest programs, which it
// builds for each guest arch on first use (harness/guestbuild). It is
// data only and imports nothing from the project.
package ksystest

import (
	"embed"
	"io/fs"
)

// Data holds the default matrix (matrix.yaml), the case catalogue
// (bpf/cases.yaml), the probe objects (bpf/obj), the header users
// include to report through ksystest's ring buffer (bpf/include), and the
// recipe for BTF of kernels built without it (images/btf.yaml).
//
//go:embed matrix.yaml bpf/cases.yaml bpf/workloads.yaml bpf/obj bpf/include images/btf.yaml images/kernels.lock images/initramfs.yaml
var Data embed.FS

// guestSource is every package the guest programs import from this module,
// with go.mod and go.sum, the workloads, Go and C, and the C source of
// ksystest-libbpf, the loader linked with Debian's libbpf. A test checks
// the Go part against `go list -deps`.
//
//go:embed go.mod go.sum
//go:embed cmd/ksystest-agent cmd/ksystest-compat cmd/ksystest-exec cmd/ksystest-poweroff cmd/ksystest-libbpf workloads
//go:embed harness/guest harness/proto harness/arch harness/syscalls harness/initramfs/newc
var guestSource embed.FS

// GuestSource is the module source the guest programs build from: the Go
// and C ones with harness/guestbuild.
func GuestSource() fs.FS { return guestSource }
