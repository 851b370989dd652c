// Package syscalls knows every syscall of every ABI ksystest boots or runs
// programs of: name, number and the kernel's entry points, generated from
// the kernel's own syscall tables (see Source), and each entry point's
// parameters, names and C types, from its definition in the same source
// (DefinitionOf). Standard library only: the guest agent, built for every
// guest GOARCH, imports it (and does not carry the parameter tables,
// which only DefinitionOf reaches).
package syscalls

//go:generate go run ../../internal/cmd/gensyscalls -out .

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Syscall is one row of an ABI's syscall table.
type Syscall struct {
	Name string
	NR   int
	// Entry is the kernel function the table names for the call,
	// without the arch's wrapper prefix (sys_clone, not __x64_sys_clone).
	// Empty when the table names none: the number is reserved and the
	// kernel runs sys_ni_syscall (ENOSYS), as for rows that name it.
	Entry string
	// CompatEntry is the function a 64-bit kernel runs instead of Entry
	// when a compat (32-bit) task makes the call with this number; empty
	// when it runs Entry. The 32-bit ABIs that 64-bit kernels run have
	// it: i386 (x86_64's IA32 emulation: compat_sys_ia32_clone), arm
	// (arm64's AArch32 table) and mips-o32. So do the rows that s390x,
	// ppc64 and riscv64 share with their 32-bit ABI, from the table's
	// compat column.
	CompatEntry string
}

type table struct {
	byNR, byName []Syscall
}

// parsed holds each ABI's table, parsed on first use.
var parsed = func() map[string]func() table {
	m := make(map[string]func() table, len(tables))
	for abi, text := range tables {
		m[abi] = sync.OnceValue(func() table { return parse(abi, text) })
	}
	return m
}()

// parse reads a generated table. The generator wrote it and a test
// parses every one, so a malformed line is a bug, not an input error.
func parse(abi, text string) table {
	var t table
	for line := range strings.Lines(text) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) == 1 && f[0] == "" {
			continue
		}
		nr, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 4 {
			panic("syscalls: bad line in the " + abi + " table: " + line)
		}
		t.byNR = append(t.byNR, Syscall{Name: f[1], NR: nr, Entry: undash(f[2]), CompatEntry: undash(f[3])})
	}
	t.byName = slices.Clone(t.byNR)
	slices.SortFunc(t.byName, func(a, b Syscall) int { return strings.Compare(a.Name, b.Name) })
	return t
}

func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// Lookup returns the syscall called name in abi.
func Lookup(abi, name string) (Syscall, bool) {
	load, ok := parsed[abi]
	if !ok {
		return Syscall{}, false
	}
	t := load()
	i, ok := slices.BinarySearchFunc(t.byName, name, func(s Syscall, name string) int { return strings.Compare(s.Name, name) })
	if !ok {
		return Syscall{}, false
	}
	return t.byName[i], true
}

// ByNumber returns the syscall numbered nr in abi.
func ByNumber(abi string, nr int) (Syscall, bool) {
	load, ok := parsed[abi]
	if !ok {
		return Syscall{}, false
	}
	t := load()
	i, ok := slices.BinarySearchFunc(t.byNR, nr, func(s Syscall, nr int) int { return s.NR - nr })
	if !ok {
		return Syscall{}, false
	}
	return t.byNR[i], true
}

// All returns every syscall of abi, by number; nil for an unknown ABI.
func All(abi string) []Syscall {
	load, ok := parsed[abi]
	if !ok {
		return nil
	}
	return slices.Clone(load().byNR)
}

// ABIs lists the known ABIs, sorted.
func ABIs() []string {
	abis := make([]string, 0, len(tables))
	for abi := range tables {
		abis = append(abis, abi)
	}
	slices.Sort(abis)
	return abis
}

// goarchABI maps each Linux GOARCH to the syscall ABI its programs use.
var goarchABI = map[string]string{
	"386":      "i386",
	"amd64":    "x86_64",
	"arm":      "arm",
	"arm64":    "arm64",
	"s390x":    "s390x",
	"ppc64":    "ppc64",
	"ppc64le":  "ppc64",
	"mips64":   "mips-n64",
	"mips64le": "mips-n64",
	"mips":     "mips-o32",
	"mipsle":   "mips-o32",
	"riscv64":  "riscv64",
}

// ForGOARCH returns the ABI that Go programs built for goarch use.
func ForGOARCH(goarch string) (abi string, ok bool) {
	abi, ok = goarchABI[goarch]
	return abi, ok
}
