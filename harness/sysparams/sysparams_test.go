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
	order, err := Order(catalogue, CloneFromConfig(config("CLONE_BACKWARDS")))
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 5, 4}, order)
	assert.False(t, Identity(order))
	assert.Equal(t, []string{"flags", "newsp", "parent_tid", "tls", "child_tid"}, Names(catalogue, order))

	order, err = Order(catalogue, CloneFromConfig(config()))
	require.NoError(t, err)
	assert.True(t, Identity(order))

	_, err = Order(catalogue[:4], CloneFromConfig(config()))
	assert.ErrorContains(t, err, "the catalogue passes 4 arguments")
	_, err = Order([]string{"fd", "buf", "len"}, Params{Names: []string{"fd", "buf", "count"}, Source: "BTF __do_sys_write"})
	assert.EqualError(t, err, `the kernel's BTF __do_sys_write has parameter 3 "count", which the catalogue does not name (it passes fd, buf, len)`)
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

func TestCanon(t *testing.T) {
	assert.Equal(t, "flags", Canon("clone_flags"))
	assert.Equal(t, "fd", Canon("fd"))
	assert.NotEmpty(t, Aliases())
}
