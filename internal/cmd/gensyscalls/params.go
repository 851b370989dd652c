package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// selection names the rule paramsFile and keepSource keep files by; it
// is part of the cache key of the extracted tree, so change it with them.
const selection = "params 1: C files defining syscalls, the builds' arches' assembly, Kconfig, Makefiles"

// paramsFile reports whether the parameter tables may read a file of the
// kernel source, by its name: C files outside arch/ and in the arch
// directories of the builds (sourceArches), their assembly and Kconfig,
// and the kbuild Makefiles that say when each file is built.
func paramsFile(name string) bool {
	if skipDir(name) {
		return false
	}
	base := path.Base(name)
	dir, inArch := strings.CutPrefix(name, "arch/")
	if inArch {
		dir, _, _ = strings.Cut(dir, "/")
		if !slices.Contains(sourceArches(), dir) {
			return false
		}
		if name == "arch/"+dir+"/Kconfig" || strings.HasSuffix(name, ".S") {
			return true
		}
	}
	return strings.HasSuffix(name, ".c") || base == "Makefile" || base == "Kbuild"
}

// keepSource reports whether extraction keeps a file paramsFile allows,
// by its text: a C or assembly file only when it may define a syscall
// entry point.
func keepSource(name string, text []byte) bool {
	switch {
	case strings.HasSuffix(name, ".c"):
		return bytes.Contains(text, []byte("SYSCALL")) || bytes.Contains(text, []byte("asmlinkage")) || bytes.Contains(text, []byte("save_static_function"))
	case strings.HasSuffix(name, ".S"):
		return bytes.Contains(text, []byte("sys"))
	}
	return true
}

// sourceArches are the arch directories of the builds the tables read.
func sourceArches() []string {
	var dirs []string
	for _, b := range builds() {
		if !slices.Contains(dirs, b.arch) {
			dirs = append(dirs, b.arch)
		}
	}
	return dirs
}

// builds are the kernels of the ABIs' entry points.
func builds() []*kernelBuild {
	var out []*kernelBuild
	for _, a := range abis() {
		for _, b := range []*kernelBuild{a.kernel, a.compatKernel} {
			if b != nil && !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// skipDir reports whether a file is in a tree that defines no syscall of
// a kernel the tables serve: tools and samples are user space, and
// arch/x86/um belongs to user-mode Linux (arch/um).
func skipDir(name string) bool {
	for _, dir := range []string{"tools/", "samples/", "scripts/", "Documentation/", "arch/x86/um/"} {
		if strings.HasPrefix(name, dir) {
			return true
		}
	}
	return false
}

// sourceIndex holds every syscall definition of the kernel tree by entry
// point: those of the arch-independent code, and each arch directory's.
type sourceIndex struct {
	generic map[string][]definition
	arch    map[string]map[string][]definition // arch dir → entry → definitions
}

// indexSource parses the C files of fsys outside arch/, and the C and
// assembly files of the builds' arch directories.
func indexSource(fsys fs.FS, builds []*kernelBuild) (*sourceIndex, error) {
	idx := &sourceIndex{generic: map[string][]definition{}, arch: map[string]map[string][]definition{}}
	orders := map[string]byteOrder{}
	for _, b := range builds {
		if o, ok := orders[b.arch]; ok && o != b.order {
			return nil, fmt.Errorf("arch/%s: builds of two byte orders", b.arch)
		}
		orders[b.arch] = b.order
		idx.arch[b.arch] = map[string][]definition{}
	}
	builtIf := makefileConds(fsys)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		isC, isAsm := strings.HasSuffix(name, ".c"), strings.HasSuffix(name, ".S")
		if !isC && !isAsm || skipDir(name) {
			return nil
		}
		into, order := idx.generic, littleEndian
		if rest, ok := strings.CutPrefix(name, "arch/"); ok {
			dir, _, _ := strings.Cut(rest, "/")
			o, ok := orders[dir]
			if !ok {
				return nil
			}
			into, order = idx.arch[dir], o
		} else if isAsm {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		defs := parseAsm
		if isC {
			defs = func(file, text string) []definition { return parseC(file, text, order) }
		}
		built, err := builtIf(name)
		if err != nil {
			return err
		}
		for _, d := range defs(name, string(data)) {
			if built != "" {
				d.conds = append([]string{built}, d.conds...)
			}
			into[d.entry] = append(into[d.entry], d)
		}
		return nil
	})
	return idx, err
}

// makefileConds returns a function that says when the kernel builds a
// source file, from its directory's kbuild Makefile (Kbuild, else
// Makefile): "" when always, or when the Makefile does not say.
func makefileConds(fsys fs.FS) func(file string) (string, error) {
	dirs := map[string]map[string][]string{}
	return func(file string) (string, error) {
		dir, base := path.Split(file)
		conds, ok := dirs[dir]
		if !ok {
			for _, mk := range []string{"Kbuild", "Makefile"} {
				data, err := fs.ReadFile(fsys, dir+mk)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return "", err
				}
				conds = kbuildConds(string(data))
				break
			}
			dirs[dir] = conds
		}
		alts := conds[strings.TrimSuffix(strings.TrimSuffix(base, ".c"), ".S")+".o"]
		if len(alts) == 0 || slices.Contains(alts, "") {
			return "", nil
		}
		var out []string
		for _, a := range alts {
			out = append(out, "("+a+")")
		}
		return strings.Join(out, " || "), nil
	}
}

// resolved is what the source says of one entry point on one build: its
// parameters, or why there are none to read.
type resolved struct {
	def definition
	ok  bool
	// stubs are the assembly stubs between the entry point and def,
	// outermost first (mips' __sys_clone, arm's sys_mmap2).
	stubs []definition
	// why says why there are no parameters (ok false).
	why string
}

// where says where the parameters come from: the definition, after the
// stubs that lead to it.
func (r resolved) where() string {
	var out []string
	for _, s := range r.stubs {
		out = append(out, fmt.Sprintf("%s %s → %s", s.where(), s.macro, s.stubFor))
	}
	return strings.Join(append(out, r.def.where()), ", ")
}

// resolve finds the definition of entry that build b compiles, among the
// arch directory's and the arch-independent code's, using facts (b's
// config) where the source defines it more than one way.
func (idx *sourceIndex) resolve(entry string, b *kernelBuild, facts map[string]bool) resolved {
	if entry == "sys_ni_syscall" {
		return resolved{why: "not implemented: the kernel runs sys_ni_syscall (ENOSYS), which reads no arguments"}
	}
	cands := selectByConds(slices.Concat(idx.arch[b.arch][entry], idx.generic[entry]), facts)
	var stubs, asm, c []definition
	for _, d := range cands {
		switch {
		case d.stubFor != "":
			stubs = append(stubs, d)
		case d.asm:
			asm = append(asm, d)
		default:
			c = append(c, d)
		}
	}
	if len(c) == 0 && len(stubs) == 1 {
		r := idx.resolve(stubs[0].stubFor, b, facts)
		r.stubs = append([]definition{stubs[0]}, r.stubs...)
		if !r.ok {
			r.why = fmt.Sprintf("%s %s passes the call to %s: %s", stubs[0].where(), stubs[0].macro, stubs[0].stubFor, r.why)
		}
		return r
	}
	if len(c) == 0 {
		switch {
		case len(asm) > 0:
			return resolved{why: "defined in assembly (" + asm[0].where() + "), with no C parameters"}
		case len(stubs) > 1:
			return resolved{why: fmt.Sprintf("%d assembly stubs of that name (%s, %s)", len(stubs), stubs[0].where(), stubs[1].where())}
		case idx.condSyscall(entry):
			return resolved{why: "not implemented on " + b.name + ": kernel/sys_ni.c makes it sys_ni_syscall (COND_SYSCALL) where no code defines it"}
		}
		return resolved{why: "no definition found (no SYSCALL_DEFINE, COMPAT_SYSCALL_DEFINE, asmlinkage function or assembly label of that name)"}
	}
	var distinct []definition
	var broken []string
	for _, d := range c {
		if d.err != "" {
			broken = append(broken, d.where()+": "+d.err)
			continue
		}
		if !slices.ContainsFunc(distinct, func(o definition) bool { return slices.Equal(o.params, d.params) }) {
			distinct = append(distinct, d)
		}
	}
	switch {
	case len(distinct) == 0:
		return resolved{why: "definition not read: " + strings.Join(broken, "; ")}
	case len(distinct) > 1:
		var ways []string
		for _, d := range distinct {
			ways = append(ways, fmt.Sprintf("%s (%s) if %s", d.where(), names(d.params), orAlways(d.conds)))
		}
		return resolved{why: fmt.Sprintf("defined %d ways, chosen by the kernel's config: %s", len(distinct), strings.Join(ways, "; "))}
	}
	d := distinct[0]
	if len(d.params) == 1 && d.params[0].typ == "struct pt_regs *" {
		return resolved{why: fmt.Sprintf("%s takes the saved registers (%s %s), not the call's arguments", d.where(), d.params[0].typ, d.params[0].name)}
	}
	return resolved{def: d, ok: true}
}

// condSyscall reports whether kernel/sys_ni.c declares entry a
// COND_SYSCALL: a weak alias of sys_ni_syscall where nothing defines it.
func (idx *sourceIndex) condSyscall(entry string) bool {
	for _, d := range idx.generic["cond:"+entry] {
		if d.file == "kernel/sys_ni.c" {
			return true
		}
	}
	return false
}

func names(ps []param) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.name)
	}
	return strings.Join(out, ", ")
}

func orAlways(conds []string) string {
	if len(conds) == 0 {
		return "always"
	}
	var out []string
	for _, c := range conds {
		if strings.Contains(c, "||") {
			c = "(" + c + ")"
		}
		out = append(out, c)
	}
	return strings.Join(out, " && ")
}

// selectByConds drops the definitions whose #if and Makefile conditions
// facts decide against; conditions facts cannot decide keep theirs.
func selectByConds(defs []definition, facts map[string]bool) []definition {
	var out []definition
	for _, d := range defs {
		if v, known := evalCond(joinConds(d.conds), facts); !known || v {
			out = append(out, d)
		}
	}
	return out
}

// entryParams is one entry point's parameters in a generated table.
type entryParams struct {
	entry  string
	params []param // nil when the source gives none: why says why
	where  string
	why    string
	// syscalls are the calls of the table that enter it.
	syscalls []string
}

func (e entryParams) same(o entryParams) bool {
	return (e.params == nil) == (o.params == nil) && slices.Equal(e.params, o.params) && e.where == o.where && e.why == o.why
}

// paramTable is one ABI's entry points with their parameters, by entry
// point: as its kernel runs them, and, for an ABI a 64-bit kernel runs
// as its compat ABI (i386, arm, mips-o32), where that kernel reads them
// otherwise: its compat entry points, and the entries it shares whose
// definition it builds another way (mseal, which 32-bit kernels lack).
type paramTable struct {
	abi            string
	native, compat []entryParams
}

// missing returns the entries without parameters.
func missing(entries []entryParams) []entryParams {
	var out []entryParams
	for _, e := range entries {
		if e.params == nil {
			out = append(out, e)
		}
	}
	return out
}

// buildParams resolves every entry point of the ABI's table: its
// entries on a.kernel, and what a.compatKernel runs for its compat tasks
// (the compat column, else the entry) there.
func buildParams(fsys fs.FS, idx *sourceIndex, a abi, t table) (paramTable, error) {
	native, compat := map[string]*entryParams{}, map[string]*entryParams{}
	factsOf := map[*kernelBuild]map[string]bool{}
	add := func(into map[string]*entryParams, entry, syscall string, b *kernelBuild) error {
		if e, ok := into[entry]; ok {
			if !slices.Contains(e.syscalls, syscall) {
				e.syscalls = append(e.syscalls, syscall)
			}
			return nil
		}
		facts, ok := factsOf[b]
		if !ok {
			var err error
			if facts, err = kconfigFacts(fsys, b); err != nil {
				return err
			}
			factsOf[b] = facts
		}
		r := idx.resolve(entry, b, facts)
		e := &entryParams{entry: entry, why: r.why, syscalls: []string{syscall}}
		if r.ok {
			e.params, e.where = r.def.params, r.where()
			if e.params == nil {
				e.params = []param{}
			}
		}
		into[entry] = e
		return nil
	}
	ownCompat := a.compatKernel == nil || a.compatKernel == a.kernel
	for _, s := range t.syscalls {
		if s.entry != "" {
			if err := add(native, s.entry, s.name, a.kernel); err != nil {
				return paramTable{}, err
			}
		}
		switch {
		case s.compat != "" && a.compatKernel == nil:
			return paramTable{}, fmt.Errorf("%s: %s has a compat entry %s, and the ABI no compat kernel", a.name, s.name, s.compat)
		case s.compat != "" && ownCompat:
			if err := add(native, s.compat, s.name, a.kernel); err != nil {
				return paramTable{}, err
			}
		case s.compat != "":
			if err := add(compat, s.compat, s.name, a.compatKernel); err != nil {
				return paramTable{}, err
			}
		case s.entry != "" && !ownCompat:
			if err := add(compat, s.entry, s.name, a.compatKernel); err != nil {
				return paramTable{}, err
			}
		}
	}
	pt := paramTable{abi: a.name, native: sorted(native)}
	for _, e := range sorted(compat) {
		if n, ok := native[e.entry]; !ok || !n.same(e) {
			pt.compat = append(pt.compat, e)
		}
	}
	return pt, nil
}

func sorted(m map[string]*entryParams) []entryParams {
	var out []entryParams
	for _, e := range m {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(x, y entryParams) int { return strings.Compare(x.entry, y.entry) })
	return out
}
