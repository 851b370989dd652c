package run

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/proto"
)

// The agent reads its files where harness/proto says; the layout must put
// them there.
func TestAgentLayoutMatchesProto(t *testing.T) {
	l, err := readLayouts(ksystest.Data)
	require.NoError(t, err)
	paths := map[string]string{}
	for _, e := range l.Guests["agent"] {
		paths[e.Source] = e.Path
	}
	assert.Equal(t, map[string]string{
		"": "/dev/console", "agent": "/init", "catalogue": proto.CataloguePath, "probes": proto.ProbesPath,
		"collections": proto.CollectionsDir, "workloads": proto.WorkloadsDir,
		"kernel-config": "/boot/config-{release}", "btf": proto.BTFPath, "compat": proto.CompatHelperPath,
		"libbpf": proto.LibbpfDir,
	}, paths)
}
