package sysparams

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func config(options ...string) func(string) string {
	return func(name string) string {
		for _, o := range options {
			if o == name {
				return "y"
			}
		}
		return ""
	}
}

func TestCloneFromConfig(t *testing.T) {
	assert.Equal(t, []string{"clone_flags", "newsp", "parent_tidptr", "child_tidptr", "tls"}, CloneFromConfig(config()).Names)
	p := CloneFromConfig(config("CLONE_BACKWARDS"))
	assert.Equal(t, []string{"clone_flags", "newsp", "parent_tidptr", "tls", "child_tidptr"}, p.Names)
	assert.Equal(t, "config CONFIG_CLONE_BACKWARDS", p.Source)
	assert.Equal(t, "newsp", CloneFromConfig(config("CLONE_BACKWARDS2")).Names[0])
	assert.Len(t, CloneFromConfig(config("CLONE_BACKWARDS3")).Names, 6)
}

var catalogue = []string{"flags", "newsp", "parent_tid", "child_tid", "tls"}

func TestOrder(t *testing.T) {
	order, unmatched, err := Order(catalogue, CloneFromConfig(config("CLONE_BACKWARDS")))
	require.NoError(t, err)
	assert.Empty(t, unmatched)
	assert.Equal(t, []int{1, 2, 3, 5, 4}, order)
	assert.False(t, Identity(order))
	assert.Equal(t, []string{"flags", "newsp", "parent_tid", "tls", "child_tid"}, Names(catalogue, order))

	order, _, err = Order(catalogue, CloneFromConfig(config()))
	require.NoError(t, err)
	assert.True(t, Identity(order))

	_, _, err = Order(catalogue[:4], CloneFromConfig(config()))
	assert.ErrorContains(t, err, "the catalogue passes 4 arguments")
}

// A label that names no parameter is no error: its argument keeps its
// place, or takes the parameter no label names.
func TestOrderUnmatched(t *testing.T) {
	sendto := Params{Names: []string{"fd", "buff", "len", "flags", "addr", "addr_len"}, Source: "BTF __se_sys_sendto"}
	order, unmatched, err := Order([]string{"fd", "buf", "len", "flags", "addr", "addr_len"}, sendto)
	require.NoError(t, err)
	assert.Equal(t, []int{1}, unmatched)
	assert.True(t, Identity(order))

	// Two labels the kernel does not know, one named parameter moved:
	// the moved one goes where the kernel has it, the others fill in.
	order, unmatched, err = Order([]string{"x", "fd", "y"}, Params{Names: []string{"fd", "buf", "count"}})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2}, unmatched)
	assert.Equal(t, []int{2, 1, 3}, order)

	// Unlabelled arguments are unmatched the same way.
	order, unmatched, err = Order([]string{"", "", ""}, Params{Names: []string{"fd", "buf", "count"}})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2}, unmatched)
	assert.True(t, Identity(order))
}

func TestLookup(t *testing.T) {
	protos := map[string][]string{
		"__do_sys_clone":   {"regs"}, // inlined wrapper: only the pt_regs one is left
		"__se_sys_clone":   {"clone_flags", "newsp", "parent_tidptr", "tls", "child_tidptr"},
		"__x64_sys_splice": {"regs"},
		"__do_sys_splice":  {"regs"},
	}
	k := Kernel{Config: config(), Prototype: func(fn string) ([]string, bool) { p, ok := protos[fn]; return p, ok }}
	p, ok, _ := k.Lookup("sys_clone")
	require.True(t, ok)
	assert.Equal(t, "BTF __se_sys_clone", p.Source, "BTF wins over the config")

	_, ok, note := k.Lookup("sys_splice")
	assert.False(t, ok)
	assert.Equal(t, "no prototype in BTF (only the pt_regs wrapper)", note)

	_, ok, note = k.Lookup("sys_write")
	assert.False(t, ok)
	assert.Equal(t, "no prototype in BTF", note)

	p, ok, _ = Kernel{Config: config("CLONE_BACKWARDS2")}.Lookup("sys_clone")
	require.True(t, ok, "without BTF, clone's order comes from the config")
	assert.Equal(t, "config CONFIG_CLONE_BACKWARDS2", p.Source)
	_, ok, _ = Kernel{Config: config()}.Lookup("compat_sys_ia32_clone")
	assert.False(t, ok, "a compat entry's order is not the native config's")
	p, ok, _ = Kernel{Config: config("CLONE_BACKWARDS")}.Lookup("__sys_clone")
	require.True(t, ok, "mips's stub calls sys_clone")
	assert.Equal(t, "tls", p.Names[3])
}

// Where BTF kept no prototype, the source says; BTF, and for clone the
// kernel's own config, win over it.
func TestLookupSource(t *testing.T) {
	source := func(entry string) (Params, bool, string) {
		switch entry {
		case "sys_write", "sys_clone", "__sys_clone", "compat_sys_ia32_clone":
			return Params{Names: []string{"source", "says"}, Source: "kernel source 6.12.95 " + entry}, true, ""
		}
		return Params{}, false, "kernel source 6.12.95: not implemented"
	}
	protos := map[string][]string{"__se_sys_read": {"fd", "buf", "count"}, "__do_sys_splice": {"regs"}}
	k := Kernel{Config: config("CLONE_BACKWARDS"), Source: source, Prototype: func(fn string) ([]string, bool) { p, ok := protos[fn]; return p, ok }}

	p, ok, _ := k.Lookup("sys_read")
	require.True(t, ok)
	assert.Equal(t, "BTF __se_sys_read", p.Source, "BTF first")
	p, ok, _ = k.Lookup("sys_write")
	require.True(t, ok)
	assert.Equal(t, "kernel source 6.12.95 sys_write", p.Source, "then the source")
	p, ok, _ = k.Lookup("__sys_clone")
	require.True(t, ok)
	assert.Equal(t, "config CONFIG_CLONE_BACKWARDS", p.Source, "clone's order is the kernel's config")
	p, ok, _ = k.Lookup("compat_sys_ia32_clone")
	require.True(t, ok)
	assert.Equal(t, "kernel source 6.12.95 compat_sys_ia32_clone", p.Source, "the source asked by the table's name")
	_, ok, note := k.Lookup("sys_splice")
	assert.False(t, ok)
	assert.Equal(t, "no prototype in BTF (only the pt_regs wrapper); kernel source 6.12.95: not implemented", note)
}

// BTF's word on a call without parameters is no word: SYSCALL_DEFINE0's
// wrapper takes an __unused pt_regs, and pahole gives an assembly entry
// point (arm's sys_mmap2) an empty prototype. The source says which.
func TestLookupEmptyPrototypes(t *testing.T) {
	protos := map[string][]string{"__do_sys_getpid": {"__unused"}, "sys_mmap2": {}}
	source := func(entry string) (Params, bool, string) {
		if entry == "sys_mmap2" {
			return Params{Names: []string{"addr", "len", "prot", "flags", "fd", "pgoff"}, Source: "kernel source"}, true, ""
		}
		return Params{Names: []string{}, Source: "kernel source"}, true, ""
	}
	k := Kernel{Source: source, Prototype: func(fn string) ([]string, bool) { p, ok := protos[fn]; return p, ok }}
	p, ok, _ := k.Lookup("sys_getpid")
	require.True(t, ok)
	assert.Empty(t, p.Names)
	assert.Equal(t, "kernel source", p.Source)
	p, ok, _ = k.Lookup("sys_mmap2")
	require.True(t, ok)
	assert.Len(t, p.Names, 6)

	_, ok, note := Kernel{Prototype: k.Prototype}.Lookup("sys_mmap2")
	assert.False(t, ok)
	assert.Equal(t, "no parameters in BTF", note)
}

func TestCanon(t *testing.T) {
	assert.Equal(t, "flags", Canon("clone_flags"))
	assert.Equal(t, "fd", Canon("fd"))
	assert.NotEmpty(t, Aliases())
}
