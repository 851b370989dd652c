// Package sysparams holds what a kernel itself says about a syscall's
// parameters: their names in the kernel's order, read from the kernel's BTF
// prototype, derived from its config (clone's CONFIG_CLONE_BACKWARDS*), or,
// where neither says, from the kernel source the syscall tables were
// generated from; and how a case catalogue's argument names line up with
// them. The kernel is the authority: a catalogue that puts a parameter the
// kernel names in another register is wrong, whatever the probes capture;
// a label that names no parameter of the kernel's is only a label. It is
// pure and imports nothing from the project.
package sysparams

import (
	"fmt"
	"slices"
	"strings"
)

// Params are a syscall's parameters as one kernel defines them.
type Params struct {
	// Names are the parameter names in the kernel's order: register i
	// carries parameter i.
	Names []string `json:"names"`
	// Source says where the names come from: "BTF __se_sys_clone",
	// "config CONFIG_CLONE_BACKWARDS", "kernel source 6.12.95
	// net/socket.c:2199".
	Source string `json:"source"`
}

// Kernel answers questions about one kernel. Config returns CONFIG_NAME's
// value ("y", "" when unset); Prototype, when not nil, returns a BTF
// function's parameter names; Source, when not nil, returns what the
// kernel source ksystest's syscall tables come from defines for an entry
// point, or why it defines no parameters (note), for kernels whose BTF
// kept no prototype; matrix's planning gives the generated tables of
// ksystest's syscall package when it is nil. That source is one version
// (6.12): for another kernel it stands in, and Params.Source says so.
type Kernel struct {
	Config    func(name string) string
	Prototype func(fn string) ([]string, bool)
	Source    func(entry string) (p Params, ok bool, note string)
}

// aliases maps names the kernel uses to the names ksystest's catalogue
// uses for the same parameter. Documented in the README ("The cases and
// the probes"); add a pair only when a kernel source names it so.
var aliases = map[string]string{
	"clone_flags":   "flags",
	"parent_tidptr": "parent_tid",
	"ptid":          "parent_tid",
	"child_tidptr":  "child_tid",
	"ctid":          "child_tid",
	"tls_val":       "tls",
	"usp":           "newsp",
	"offset":        "off",
	"pgoff":         "off",
}

// Canon returns the catalogue's name for a kernel parameter name.
func Canon(name string) string {
	if a, ok := aliases[name]; ok {
		return a
	}
	return name
}

// Aliases lists the documented pairs, kernel name first, sorted.
func Aliases() [][2]string {
	var out [][2]string
	for k, v := range aliases {
		out = append(out, [2]string{k, v})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// cloneOrders are kernel/fork.c's SYSCALL_DEFINE*(clone, ...) variants, by
// the config option that selects each.
var cloneOrders = []struct {
	option string
	names  []string
}{
	{"CLONE_BACKWARDS", []string{"clone_flags", "newsp", "parent_tidptr", "tls", "child_tidptr"}},
	{"CLONE_BACKWARDS2", []string{"newsp", "clone_flags", "parent_tidptr", "child_tidptr", "tls"}},
	{"CLONE_BACKWARDS3", []string{"clone_flags", "newsp", "stack_size", "parent_tidptr", "child_tidptr", "tls"}},
}

// CloneFromConfig derives clone's parameter order from the kernel's
// config: kernel/fork.c picks one SYSCALL_DEFINE by CONFIG_CLONE_BACKWARDS,
// _BACKWARDS2 or _BACKWARDS3, else the default order.
func CloneFromConfig(config func(string) string) Params {
	for _, o := range cloneOrders {
		if config(o.option) == "y" {
			return Params{Names: o.names, Source: "config CONFIG_" + o.option}
		}
	}
	return Params{
		Names:  []string{"clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls"},
		Source: "config (no CONFIG_CLONE_BACKWARDS*)",
	}
}

// Lookup returns the parameters of the kernel's entry point for a
// syscall, as its syscall table names it ("sys_clone", mips's asm stub
// "__sys_clone", or a compat entry such as "compat_sys_ia32_clone"): from
// the BTF prototype of the function that takes the arguments, when the
// kernel's BTF has one with named parameters; else, for clone, from the
// config; else from the source. note says what was missing when ok is
// false.
func (k Kernel) Lookup(entry string) (p Params, ok bool, note string) {
	fn := entry
	if strings.HasPrefix(fn, "__sys_") {
		fn = fn[2:] // an asm stub that calls sys_NAME
	}
	if k.Prototype != nil {
		note = "no prototype in BTF"
		for _, f := range []string{"__do_" + fn, "__se_" + fn, fn} {
			names, found := k.Prototype(f)
			switch {
			case !found:
				continue
			case len(names) == 1 && (names[0] == "regs" || names[0] == "__unused"):
				// The wrapper's pt_regs (SYSCALL_DEFINE0's is unused).
				note = "no prototype in BTF (only the pt_regs wrapper)"
				continue
			case len(names) == 0:
				// What pahole makes of an assembly entry point (arm's
				// sys_mmap2) looks the same as a call without
				// parameters: the source tells them apart.
				note = "no parameters in BTF"
				continue
			}
			return Params{Names: names, Source: "BTF " + f}, true, ""
		}
	} else {
		note = "no BTF read"
	}
	// The kernel's own config says which of kernel/fork.c's clones it
	// built: it wins over a source of another version.
	if fn == "sys_clone" && k.Config != nil {
		return CloneFromConfig(k.Config), true, ""
	}
	if k.Source != nil {
		p, ok, why := k.Source(entry)
		if ok {
			return p, true, ""
		}
		note += "; " + why
	}
	return Params{}, false, note
}

// Order returns the register order of a call whose arguments are labelled
// args (in the catalogue's order): register i gets argument Order[i]
// (1-based). A label names the kernel's parameter it equals (through the
// aliases); a label that names none of them (unmatched, indexes into args)
// is no contract of the kernel's: its argument takes the parameter in its
// own place when no other label names that one, else the first parameter
// left. It fails only when the counts differ.
func Order(args []string, p Params) (order []int, unmatched []int, err error) {
	if len(args) != len(p.Names) {
		return nil, nil, fmt.Errorf("the catalogue passes %d arguments (%s), the kernel's %s takes %d (%s)",
			len(args), strings.Join(args, ", "), p.Source, len(p.Names), strings.Join(p.Names, ", "))
	}
	order = make([]int, len(p.Names))
	for j, a := range args {
		i := slices.IndexFunc(p.Names, func(kn string) bool { return Canon(a) == Canon(kn) })
		if i < 0 || order[i] != 0 {
			unmatched = append(unmatched, j)
			continue
		}
		order[i] = j + 1
	}
	var left []int
	for _, j := range unmatched {
		if order[j] == 0 {
			order[j] = j + 1
		} else {
			left = append(left, j)
		}
	}
	for _, j := range left {
		i := slices.Index(order, 0)
		order[i] = j + 1
	}
	return order, unmatched, nil
}

// Identity reports whether order keeps every argument in its own register.
func Identity(order []int) bool {
	for i, o := range order {
		if o != i+1 {
			return false
		}
	}
	return true
}

// Names returns args put in register order.
func Names(args []string, order []int) []string {
	if len(order) == 0 {
		return args
	}
	out := make([]string, len(order))
	for i, o := range order {
		if o >= 1 && o <= len(args) {
			out[i] = args[o-1]
		}
	}
	return out
}
