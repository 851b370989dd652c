package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/result"
)

// examples/snoop, tools written the way libbpf-tools are (their own ring
// buffer or perf buffer, records with the path and the socket address
// copied from the caller), run as its README says, passes on every target
// of the default matrix: each field of each record as passed, the
// strings and addresses by content, and where a loader or the kernel
// cannot load the tools, the refusal its config declares, with the
// loader's error.
func TestVMSnoopExample(t *testing.T) {
	targets := defaultTargets(t)
	requireVMs(t, targets)
	dir := project(t, "../../examples/snoop")
	code, _, errs := ksystestIn(t, dir, "run", "--matrix", "ksystest.yaml", "--out", "out")
	require.Equal(t, 0, code, errs)

	r := readResults(t, filepath.Join(dir, "out", "results.json"))
	require.Len(t, r.Cells, len(targets))
	// Where the config says a loader refuses a collection (and why).
	refuses := map[string][]string{
		"cilium/ebpf": {"arm-6.1", "arm-6.12", "mips64el-6.12", "ppc64le-6.12", "riscv64-6.12"},
		"libbpf":      {"ppc64le-6.1", "ppc64le-6.12", "riscv64-6.12"},
	}
	ringbuf := map[string]bool{"opensnoop-openat": true, "netsnoop-connect": true, "netsnoop-sendto": true}
	refused, contents, differs := 0, 0, 0
	for _, c := range r.Cells {
		assert.Equal(t, result.OutcomePass, c.Outcome, "%s: %s", c.Target, c.Reason)
		if c.Arch == "i386" {
			assert.Empty(t, c.Cases, "the example's cases exclude i386")
			continue
		}
		require.Len(t, c.Cases, 8, "%s: four cases, two loaders", c.Target)
		for _, cs := range c.Cases {
			require.NotNil(t, cs.Loader, "%s/%s", c.Target, cs.Name)
			base, _, _ := strings.Cut(cs.Name, "@")
			family := cs.Loader.Name
			if strings.HasPrefix(family, "libbpf-") {
				family = "libbpf"
			}
			if slices.Contains(refuses[family], c.Target) || c.Target == "x86_64-ubuntu-5.4" && ringbuf[base] {
				assert.Equal(t, result.QuirkConfirmed, cs.Verdict, "%s/%s: %s", c.Target, cs.Name, cs.Message)
				assert.Contains(t, cs.Message, "refused, as declared: ", "%s/%s", c.Target, cs.Name)
				refused++
				continue
			}
			assert.Equal(t, result.Pass, cs.Verdict, "%s/%s: %s", c.Target, cs.Name, cs.Message)
			require.Len(t, cs.Sets, 1, "%s/%s", c.Target, cs.Name)
			set := cs.Sets[0]
			assert.True(t, set.OK, "%s/%s: %s", c.Target, cs.Name, set.Message)
			for _, a := range set.Args {
				if a.Expect == matrix.ExpectIgnore {
					continue
				}
				assert.True(t, strings.HasPrefix(a.From, "field "), "%s/%s/%s read from %q", c.Target, cs.Name, a.Name, a.From)
				switch {
				case a.Expect == matrix.ExpectDiffer:
					// ppc64le-6.1 under cilium/ebpf: the wrapper's registers.
					differs++
					assert.Equal(t, "ppc64le-6.1", c.Target, "%s/%s", cs.Name, a.Name)
				case a.PassedContent != "":
					contents++
					assert.Equal(t, a.PassedContent, a.CapturedContent, "%s/%s/%s", c.Target, cs.Name, a.Name)
				default:
					require.NotNil(t, a.Captured, "%s/%s/%s", c.Target, cs.Name, a.Name)
					assert.Equal(t, a.Passed, *a.Captured, "%s/%s/%s", c.Target, cs.Name, a.Name)
				}
			}
		}
	}
	assert.NotZero(t, contents, "paths and socket addresses were compared by content")
	assert.NotZero(t, differs, "the readings of the wrapper's registers on ppc64le-6.1 were checked")
	assert.Equal(t, 38, refused, "every declared refusal was checked")
}
