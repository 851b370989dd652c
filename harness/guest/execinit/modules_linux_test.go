package execinit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModuleKey(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/net/veth.ko.xz": "veth",
		"nf-conntrack":                  "nf_conntrack",
		"kernel/fs/9p/9p.ko":            "9p",
		"dummy":                         "dummy",
	} {
		assert.Equal(t, want, moduleKey(in), in)
	}
}

func TestReadModulesDepAndAlias(t *testing.T) {
	dir := t.TempDir()
	dep := filepath.Join(dir, "modules.dep")
	require.NoError(t, os.WriteFile(dep, []byte(`kernel/net/sched/sch_netem.ko.xz:
kernel/net/netfilter/xt_conntrack.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz kernel/lib/libcrc32c.ko.xz
no colon here
:
kernel/drivers/net/veth.ko.xz:
`), 0o644))
	deps, err := readModulesDep(dep)
	require.NoError(t, err)
	assert.Len(t, deps, 3)
	assert.Equal(t, moduleDep{path: "kernel/net/netfilter/xt_conntrack.ko.xz",
		deps: []string{"kernel/net/netfilter/nf_conntrack.ko.xz", "kernel/lib/libcrc32c.ko.xz"}}, deps["xt_conntrack"])
	assert.Empty(t, deps["veth"].deps)

	alias := filepath.Join(dir, "modules.alias")
	require.NoError(t, os.WriteFile(alias, []byte(`# Aliases extracted from modules themselves.
alias fs-9p 9p
alias pci:v00001AF4d00001009sv*sd*bc*sc*i* 9pnet_virtio
alias net-pf-16-proto-9 nf-conntrack
alias broken
`), 0o644))
	aliases, err := readModulesAlias(alias)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"fs-9p": "9p", "net-pf-16-proto-9": "nf_conntrack"}, aliases)
}
