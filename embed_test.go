package ksystest

import (
	"io/fs"
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/kernel"
)

const module = "github.com/ksystest/ksystest"

// deps lists the packages of this module that pkg imports, for a port.
func deps(t *testing.T, env []string, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.Output()
	require.NoError(t, err, "go list %s", pkg)
	var own []string
	for _, p := range strings.Fields(string(out)) {
		if p == module || strings.HasPrefix(p, module+"/") {
			own = append(own, p)
		}
	}
	return own
}

// The guest programs build from GuestSource alone: every package of this
// module they import, on every guest port, is carried.
func TestGuestSourceComplete(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list for every port")
	}
	ports := map[string][]string{}
	for _, a := range arch.All() {
		ports[a.Go.Key()] = a.Go.Env()
		if a.Compat != nil {
			ports[a.Compat.Key()] = a.Compat.Env()
		}
	}
	for key, env := range ports {
		for _, cmd := range []string{"./cmd/ksystest-agent", "./cmd/ksystest-compat", "./cmd/ksystest-exec", "./cmd/ksystest-poweroff", "./workloads/httpget"} {
			for _, p := range deps(t, env, cmd) {
				dir := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
				entries, err := fs.ReadDir(guestSource, dir)
				require.NoError(t, err, "%s (%s) imports %s, which GuestSource lacks: add it to the go:embed list", cmd, key, p)
				var goFiles int
				for _, e := range entries {
					if path.Ext(e.Name()) == ".go" {
						goFiles++
					}
				}
				assert.NotZero(t, goFiles, p)
			}
		}
	}
}

// The host binary never links cilium/ebpf: only guest programs load BPF.
func TestHostDoesNotLinkEBPF(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cmd/ksystest").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(out)) {
		assert.False(t, strings.HasPrefix(p, "github.com/cilium/ebpf"), "cmd/ksystest links %s", p)
	}
}

// Every BPF target of the arch table has a committed probe object, and
// there is no other (genprobes makes them from the table).
func TestProbeObjects(t *testing.T) {
	want := map[string]bool{}
	for _, b := range arch.BPFTargets() {
		want["probes_"+b.Suffix()+".o"] = true
		_, err := fs.Stat(Data, "bpf/obj/probes_"+b.Suffix()+".o")
		assert.NoError(t, err, "run make generate")
	}
	objs, err := fs.ReadDir(Data, "bpf/obj")
	require.NoError(t, err)
	for _, o := range objs {
		assert.True(t, want[o.Name()], "bpf/obj/%s is for no BPF target of the arch table", o.Name())
	}
}

// The BTF recipe the binary carries parses.
func TestEmbeddedBTFRecipe(t *testing.T) {
	_, err := kernel.ReadBTFRecipe(Data, "images/btf.yaml")
	assert.NoError(t, err)
}
