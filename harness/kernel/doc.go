// Package kernel gives a run the kernels it boots: it resolves a target's
// kernel package in a distro's archive (through the kernel lock, which
// pins each to the exact package and hash), fetches and unpacks its boot
// image and config into the cache, finds or makes its BTF (its own .BTF,
// pahole from the -dbg package, or a local file), reads a local kernel a
// user gives, and shows a package's module tree to exec guests.
package kernel
