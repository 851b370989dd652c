package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// An abi is one syscall ABI of the generated package and where the kernel
// defines it. What the fields restate from kernel Makefiles, evidence
// quotes, so a kernel that changes those lines stops the generator instead
// of silently changing the tables.
type abi struct {
	name string
	// table is the syscall table, a path in the kernel tree.
	table string
	// rows selects the table's rows by their abi column; nil keeps all.
	rows []string
	// compatRows are the rows whose compat column a 64-bit kernel runs
	// for its compat tasks making this call with this number: the whole
	// table for a compat ABI (i386), the rows common to both ABIs for a
	// table that serves a 64-bit ABI and its 32-bit sibling (s390x).
	compatRows []string
	// compat, when set, is a 64-bit kernel's own table for this ABI as
	// its compat ABI (arm64's AArch32 table for arm); its entries win
	// over the table's compat column, which means something else (OABI).
	compat *abi
	// offset is added to the table's numbers (mips: __NR_Linux).
	offset   int
	evidence []evidence
	// generic names the arch of an asm-generic ABI: table and rows then
	// come from scripts/Makefile.asm-headers and the arch's
	// Makefile.syscalls (resolveGeneric).
	generic string
	// mipsSim names the mips ABI whose offset is read from unistd.h.
	mipsSim string
	// kernel is the kernel that runs the ABI's entry points, and
	// compatKernel the 64-bit one that runs its compat entry points:
	// where their parameters are read from.
	kernel, compatKernel *kernelBuild
}

// evidence is a line a kernel file must contain, whitespace aside.
type evidence struct{ file, line string }

// abis are the ABIs ksystest boots or runs programs of.
func abis() []abi {
	const x86 = "arch/x86/entry/syscalls/"
	const mips = "arch/mips/kernel/syscalls/"
	return []abi{
		{
			name: "x86_64", table: x86 + "syscall_64.tbl", rows: []string{"common", "64"}, kernel: x86_64,
			evidence: []evidence{{x86 + "Makefile", "$(uapi)/unistd_64.h: abis := common,64"}},
		},
		{
			name: "i386", table: x86 + "syscall_32.tbl", rows: []string{"i386"}, compatRows: []string{"i386"},
			kernel: x86_32, compatKernel: x86_64,
			evidence: []evidence{
				{x86 + "Makefile", "$(uapi)/unistd_32.h: abis := i386"},
				{x86 + "Makefile", "$(out)/syscalls_32.h: abis := i386"},
			},
		},
		{name: "arm64", generic: "arm64", kernel: arm64},
		{
			name: "arm", table: "arch/arm/tools/syscall.tbl", rows: []string{"common", "eabi"},
			kernel: arm32, compatKernel: arm64,
			evidence: []evidence{
				{"arch/arm/tools/Makefile", "cmd_syshdr = $(CONFIG_SHELL) $(syshdr) --abis common,$* \\"},
				{"arch/arm/tools/Makefile", "uapi-hdrs-y += $(uapi)/unistd-eabi.h"},
			},
			compat: &abi{name: "arm64 compat", generic: "arm64"},
		},
		{
			name: "s390x", table: "arch/s390/kernel/syscalls/syscall.tbl", kernel: s390x, compatKernel: s390x,
			rows: []string{"common", "64"}, compatRows: []string{"common", "32"},
			evidence: []evidence{
				{"arch/s390/kernel/syscalls/Makefile", "syshdr_abi_unistd_64 := common,64"},
				{"arch/s390/kernel/syscalls/Makefile", "syshdr_abi_unistd_32 := common,32"},
			},
		},
		{
			name: "ppc64", table: "arch/powerpc/kernel/syscalls/syscall.tbl", kernel: ppc64, compatKernel: ppc64,
			rows: []string{"common", "nospu", "64"}, compatRows: []string{"common", "nospu", "32"},
			evidence: []evidence{
				{"arch/powerpc/kernel/syscalls/Makefile", "$(uapi)/unistd_64.h: abis := common,nospu,64"},
				{"arch/powerpc/kernel/syscalls/Makefile", "$(uapi)/unistd_32.h: abis := common,nospu,32"},
			},
		},
		// mips builds its headers from every row (no --abis), numbered
		// from __NR_Linux. n64 tables have no compat column.
		{
			name: "mips-n64", table: mips + "syscall_n64.tbl", mipsSim: "n64", kernel: mips64,
			evidence: []evidence{{mips + "Makefile", "cmd_syshdr = $(CONFIG_SHELL) $(syshdr) --offset __NR_Linux $< $@"}},
		},
		{
			name: "mips-o32", table: mips + "syscall_o32.tbl", mipsSim: "o32", compatRows: []string{"o32"},
			kernel: mips32, compatKernel: mips64,
			evidence: []evidence{{mips + "Makefile", "cmd_syshdr = $(CONFIG_SHELL) $(syshdr) --offset __NR_Linux $< $@"}},
		},
		{name: "riscv64", generic: "riscv", kernel: riscv64, compatKernel: riscv64},
	}
}

// sourceFiles are the kernel files the syscall tables read, as path.Match
// patterns (the parameter tables read paramsFile's).
var sourceFiles = []string{
	"scripts/syscall.tbl",
	"scripts/Makefile.asm-headers",
	"arch/*/kernel/Makefile.syscalls",
	"arch/*/kernel/syscalls/*",
	"arch/*/entry/syscalls/*",
	"arch/*/tools/Makefile",
	"arch/*/tools/syscall*.tbl",
	"arch/mips/include/uapi/asm/unistd.h",
}

// row is one line of a syscall table.
type row struct {
	nr                  int
	abi, name           string
	entry, compatColumn string // "" when the table has none or says "-"
}

// parseTable reads a kernel syscall table: "NR ABI NAME [ENTRY [COMPAT
// [noreturn]]]" a line, # comments, as scripts/syscalltbl.sh reads it.
func parseTable(fsys fs.FS, name string) ([]row, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 3 || len(fields) > 6 || len(fields) == 6 && fields[5] != "noreturn" {
			return nil, fmt.Errorf("%s:%d: want NR ABI NAME [ENTRY [COMPAT [noreturn]]], got %q", name, line, sc.Text())
		}
		nr, err := strconv.Atoi(fields[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: syscall number: %w", name, line, err)
		}
		fields = append(fields, "-", "-")
		rows = append(rows, row{nr: nr, abi: fields[1], name: fields[2], entry: undash(fields[3]), compatColumn: undash(fields[4])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return rows, nil
}

// checkEvidence makes sure every evidence line is in its file.
func checkEvidence(fsys fs.FS, ev []evidence) error {
	for _, e := range ev {
		data, err := fs.ReadFile(fsys, e.file)
		if err != nil {
			return err
		}
		want := strings.Join(strings.Fields(e.line), " ")
		found := false
		for line := range strings.Lines(string(data)) {
			if strings.Join(strings.Fields(line), " ") == want {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%s no longer says %q: check the ABI's table and rows against it", e.file, e.line)
		}
	}
	return nil
}

// resolveGeneric fills in an asm-generic ABI the way
// scripts/Makefile.asm-headers builds it: rows from syscall_abis_64 (its
// defaults, then the arch's Makefile.syscalls), the table from
// scripts/syscall.tbl unless the arch overrides syscalltbl. bits picks the
// 64-bit ABI or the 32-bit one (arm64's AArch32 compat table). The compat
// column serves the arch's 32-bit compat ABI only when that ABI reads the
// same table.
func resolveGeneric(fsys fs.FS, a abi, bits string) (abi, error) {
	vars := map[string][]string{}
	tables := map[string]string{}
	for _, file := range []string{"scripts/Makefile.asm-headers", "arch/" + a.generic + "/kernel/Makefile.syscalls"} {
		if err := readMakeVars(fsys, file, vars); err != nil {
			return abi{}, err
		}
		if t := vars["syscalltbl"]; len(t) == 1 {
			t := strings.TrimPrefix(t[0], "$(srctree)/")
			tables["32"], tables["64"] = strings.ReplaceAll(t, "%", "32"), strings.ReplaceAll(t, "%", "64")
		}
		delete(vars, "syscalltbl")
	}
	if tables[bits] == "" {
		return abi{}, fmt.Errorf("%s: no syscalltbl in scripts/Makefile.asm-headers", a.name)
	}
	a.table, a.rows = tables[bits], vars["syscall_abis_"+bits]
	if len(a.rows) == 0 {
		return abi{}, fmt.Errorf("%s: no syscall_abis_%s in the Makefiles", a.name, bits)
	}
	if bits == "64" && tables["32"] == tables["64"] {
		a.compatRows = vars["syscall_abis_32"]
	}
	return a, nil
}

// readMakeVars reads the "VAR := value", "VAR = value" and "VAR += value"
// lines of a Makefile into vars, values split at spaces and commas.
func readMakeVars(fsys fs.FS, name string, vars map[string][]string) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(data)) {
		for _, op := range []string{"+=", ":=", "="} {
			k, v, ok := strings.Cut(line, op)
			k = strings.TrimSpace(k)
			if !ok || k == "" || strings.ContainsAny(k, " \t$():#") {
				continue
			}
			values := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
			if op == "+=" {
				vars[k] = append(vars[k], values...)
			} else {
				vars[k] = values
			}
			break
		}
	}
	return nil
}

// mipsOffset reads __NR_Linux for one mips ABI from the uapi unistd.h,
// where each "#define __NR_Linux N" comes before the include of that
// ABI's numbers ("#include <asm/unistd_n64.h>").
func mipsOffset(fsys fs.FS, sim string) (int, error) {
	const header = "arch/mips/include/uapi/asm/unistd.h"
	data, err := fs.ReadFile(fsys, header)
	if err != nil {
		return 0, err
	}
	last := -1
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "#define" && f[1] == "__NR_Linux":
			if last, err = strconv.Atoi(f[2]); err != nil {
				return 0, fmt.Errorf("%s: __NR_Linux: %w", header, err)
			}
		case len(f) == 2 && f[0] == "#include" && f[1] == "<asm/unistd_"+sim+".h>" && last >= 0:
			return last, nil
		}
	}
	return 0, fmt.Errorf("%s: no __NR_Linux before the include of unistd_%s.h", header, sim)
}

// syscall is one line of a generated table.
type syscall struct {
	nr                  int
	name, entry, compat string
}

// table is one ABI's generated table.
type table struct {
	abi string
	// from says which rows of which files it came from.
	from     string
	syscalls []syscall
}

// build reads the ABI's table and returns its syscalls by number.
func build(fsys fs.FS, a abi) (table, error) {
	var err error
	if a.generic != "" {
		if a, err = resolveGeneric(fsys, a, "64"); err != nil {
			return table{}, err
		}
	}
	if err := checkEvidence(fsys, a.evidence); err != nil {
		return table{}, err
	}
	if a.mipsSim != "" {
		if a.offset, err = mipsOffset(fsys, a.mipsSim); err != nil {
			return table{}, err
		}
	}
	t := table{abi: a.name, from: describe(a)}
	rows, err := selectRows(fsys, a.table, a.rows)
	if err != nil {
		return table{}, err
	}
	var compat map[int]row
	if a.compat != nil {
		var c abi
		if c, compat, err = compatTable(fsys, *a.compat); err != nil {
			return table{}, err
		}
		t.from += "; compat entries: " + describe(c)
	}
	names := map[string]bool{}
	for _, r := range rows {
		s := syscall{nr: r.nr + a.offset, name: r.name, entry: r.entry}
		if slices.Contains(a.compatRows, r.abi) {
			s.compat = r.compatColumn
		}
		if compat != nil {
			c, ok := compat[r.nr]
			if !ok || c.name != r.name {
				return table{}, fmt.Errorf("%s: %s says %d is %s, the compat table says %q", a.name, a.table, r.nr, r.name, c.name)
			}
			s.compat = cmp.Or(c.compatColumn, c.entry)
			delete(compat, r.nr)
		}
		if s.compat == s.entry {
			s.compat = ""
		}
		if names[s.name] {
			return table{}, fmt.Errorf("%s: %s names %s twice", a.name, a.table, s.name)
		}
		names[s.name] = true
		t.syscalls = append(t.syscalls, s)
	}
	if len(compat) > 0 {
		nr := slices.Min(slices.Collect(maps.Keys(compat)))
		return table{}, fmt.Errorf("%s: the compat table has %d %s, %s does not", a.name, nr, compat[nr].name, a.table)
	}
	return t, nil
}

// describe names an ABI's table and rows.
func describe(a abi) string {
	rows := "all rows"
	if a.rows != nil {
		rows = "rows " + strings.Join(a.rows, ",")
	}
	s := a.table + ", " + rows
	if a.offset != 0 {
		s += fmt.Sprintf(", numbers + %d", a.offset)
	}
	if a.compatRows != nil {
		s += ", compat column of rows " + strings.Join(a.compatRows, ",")
	}
	return s
}

// selectRows returns the table's rows whose abi is in abis (all when nil),
// checking that numbers only grow, as the kernel's scripts do.
func selectRows(fsys fs.FS, table string, abis []string) ([]row, error) {
	all, err := parseTable(fsys, table)
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, r := range all {
		if abis != nil && !slices.Contains(abis, r.abi) {
			continue
		}
		if len(rows) > 0 && r.nr <= rows[len(rows)-1].nr {
			return nil, fmt.Errorf("%s: %d %s: numbers not increasing", table, r.nr, r.name)
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows of abis %s", table, strings.Join(abis, ","))
	}
	return rows, nil
}

// compatTable reads a 64-bit kernel's table of its compat ABI by number.
func compatTable(fsys fs.FS, a abi) (abi, map[int]row, error) {
	a, err := resolveGeneric(fsys, a, "32")
	if err != nil {
		return abi{}, nil, err
	}
	rows, err := selectRows(fsys, a.table, a.rows)
	if err != nil {
		return abi{}, nil, err
	}
	m := make(map[int]row, len(rows))
	for _, r := range rows {
		m[r.nr] = r
	}
	return a, m, nil
}

// undash reads a table's "-": no entry point.
func undash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}
