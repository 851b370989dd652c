package kernel

import "github.com/ksystest/ksystest/harness/archive"

// Archive is a Debian archive as a source of kernels: its packages, the
// -dbg packages BTF is made from, and the pinning of both by a kernel
// lock.
type Archive struct{ *archive.Fetcher }
