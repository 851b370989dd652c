package report

import (
	"bytes"
	"testing"

	junit "github.com/joshdk/go-junit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJUnitGolden(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, JUnit(&b, sampleRun()))
	golden(t, "junit.golden.xml", b.Bytes())
}

// The JUnit file must be read as JUnit by a JUnit reader, not merely look
// like it.
func TestJUnitParses(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, JUnit(&b, sampleRun()))
	suites, err := junit.Ingest(b.Bytes())
	require.NoError(t, err)
	require.Len(t, suites, 5)

	byName := map[string]junit.Suite{}
	for _, s := range suites {
		byName[s.Name] = s
	}
	x86 := byName["x86_64-6.1"]
	require.Len(t, x86.Tests, 5)
	statuses := map[string]junit.Status{}
	for _, tc := range x86.Tests {
		statuses[tc.Name] = tc.Status
	}
	assert.Equal(t, junit.StatusPassed, statuses["write"])
	assert.Equal(t, junit.StatusFailed, statuses["splice"])
	assert.Equal(t, junit.StatusPassed, statuses["clone-aware"], "handled is a pass")
	assert.Equal(t, junit.StatusFailed, statuses["workload-client"])
	for _, tc := range x86.Tests {
		if tc.Name == "splice" {
			require.NotNil(t, tc.Error)
			assert.Contains(t, tc.Message, "arg 4 (off_out) expected 0x4444000000004404, captured 0x40a96e")
			assert.Contains(t, tc.Error.Error(), "MISMATCH: unrelated value")
		}
	}
	assert.Equal(t, junit.StatusPassed, byName["arm64-6.1"].Tests[1].Status, "quirk-confirmed is a pass")

	s390x := byName["s390x-6.12"]
	require.Len(t, s390x.Tests, 1)
	assert.Equal(t, junit.StatusError, s390x.Tests[0].Status, "a case its crashed guest never ran")
	assert.Contains(t, s390x.Tests[0].SystemOut, "Kernel panic - not syncing")
	assert.Equal(t, 2, x86.Totals.Failed, "splice and the workload")

	// A case the host stopped is an error, never a failure.
	arm := byName["arm-6.1"]
	require.Len(t, arm.Tests, 3)
	assert.Equal(t, junit.StatusPassed, arm.Tests[0].Status, "judged before QEMU was killed")
	assert.Equal(t, junit.StatusError, arm.Tests[1].Status)
	assert.Contains(t, arm.Tests[1].Message, "infra-error: QEMU was killed by signal 9")
	assert.Zero(t, arm.Totals.Failed)
}
