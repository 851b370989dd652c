package main

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// A kernelBuild is a kernel that runs entry points of the tables: where
// its code is, its byte order, and what its config says of the options
// that choose between a syscall's definitions where the source has more
// than one (kernel/signal.c's three sigsuspends, fanotify_mark's split
// mask).
type kernelBuild struct {
	name string
	// arch is its directory under arch/.
	arch  string
	order byteOrder
	// base are the config symbols (without CONFIG_) the build is made of,
	// as Debian configures it: its arch and word size, and whether it
	// runs a compat ABI. The options the definitions depend on are read
	// from the arch's Kconfig with them (kconfigFacts).
	base map[string]bool
}

// selected are the Kconfig options that choose between definitions of
// one syscall in 6.12, read from each arch's Kconfig "select" lines.
var selected = []string{"ARCH_SPLIT_ARG64", "CLONE_BACKWARDS", "CLONE_BACKWARDS2", "CLONE_BACKWARDS3", "OLD_SIGSUSPEND", "OLD_SIGSUSPEND3", "OLD_SIGACTION", "TRAD_SIGNALS"}

var (
	x86_64 = &kernelBuild{name: "x86 64-bit", arch: "x86",
		base: map[string]bool{"X86": true, "X86_64": true, "X86_32": false, "64BIT": true, "COMPAT": true, "IA32_EMULATION": true, "COMPAT_32": true}}
	x86_32 = &kernelBuild{name: "x86 32-bit", arch: "x86",
		base: map[string]bool{"X86": true, "X86_64": false, "X86_32": true, "64BIT": false, "COMPAT": false, "IA32_EMULATION": false, "COMPAT_32": true}}
	arm64 = &kernelBuild{name: "arm64", arch: "arm64",
		base: map[string]bool{"ARM64": true, "64BIT": true, "COMPAT": true}}
	arm32 = &kernelBuild{name: "arm", arch: "arm",
		base: map[string]bool{"ARM": true, "64BIT": false, "COMPAT": false}}
	s390x = &kernelBuild{name: "s390x", arch: "s390", order: bigEndian,
		base: map[string]bool{"S390": true, "64BIT": true}}
	// Debian's ppc64 port is ppc64el.
	ppc64 = &kernelBuild{name: "ppc64", arch: "powerpc",
		base: map[string]bool{"PPC": true, "PPC64": true, "PPC32": false, "64BIT": true}}
	// Debian's mips ports are mips64el and mipsel.
	mips64 = &kernelBuild{name: "mips 64-bit", arch: "mips",
		base: map[string]bool{"MIPS": true, "64BIT": true, "32BIT": false, "MIPS32_O32": true, "COMPAT": true}}
	mips32 = &kernelBuild{name: "mips 32-bit", arch: "mips",
		base: map[string]bool{"MIPS": true, "64BIT": false, "32BIT": true, "MIPS32_O32": false, "COMPAT": false}}
	riscv64 = &kernelBuild{name: "riscv64", arch: "riscv",
		base: map[string]bool{"RISCV": true, "64BIT": true, "32BIT": false}}
)

// kconfigFacts returns what the build's config says: its base symbols
// and each of the selected options, as CONFIG_ names. An option is set
// when a "select" line of the arch's Kconfig sets it in a config block
// the base turns on (and its "if" holds), unset when none can; an option
// selected in a block the base does not decide stays unknown, so the
// definitions it chooses between are reported rather than guessed.
func kconfigFacts(fsys fs.FS, b *kernelBuild) (map[string]bool, error) {
	facts := map[string]bool{}
	for k, v := range b.base {
		facts["CONFIG_"+k] = v
	}
	file := "arch/" + b.arch + "/Kconfig"
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	state := map[string]tri{}
	for _, opt := range selected {
		state[opt] = no
	}
	block := ""
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "config" || f[0] == "menuconfig") {
			block = f[1]
			continue
		}
		if len(f) < 2 || f[0] != "select" || !slices.Contains(selected, f[1]) {
			continue
		}
		cond := "CONFIG_" + block
		if len(f) > 3 && f[2] == "if" {
			cond += " && (" + kconfigExpr(strings.Join(f[3:], " ")) + ")"
		}
		switch v, known := evalCond(cond, facts); {
		case !known:
			if state[f[1]] != yes {
				state[f[1]] = unknown
			}
		case v:
			state[f[1]] = yes
		}
	}
	for _, opt := range slices.Sorted(maps.Keys(state)) {
		if state[opt] != unknown {
			facts["CONFIG_"+opt] = state[opt] == yes
		}
	}
	return facts, nil
}

// kconfigExpr writes a Kconfig expression's symbols as CONFIG_ names.
func kconfigExpr(expr string) string {
	var out []string
	for _, t := range condTokens(expr) {
		if identRE.MatchString(t) {
			t = "CONFIG_" + t
		}
		out = append(out, t)
	}
	return strings.Join(out, " ")
}

func (b *kernelBuild) String() string { return fmt.Sprintf("%s (arch/%s)", b.name, b.arch) }
