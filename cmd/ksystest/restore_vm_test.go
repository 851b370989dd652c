package main

import (
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testVerdicts are the tests go test -v reported, with how each ended:
// "--- PASS: TestX", without the times.
func testVerdicts(out string) []string {
	var v []string
	for _, m := range regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): (\S+)`).FindAllStringSubmatch(out, -1) {
		v = append(v, m[1]+" "+m[2])
	}
	slices.Sort(v)
	return v
}

// go test -exec over cilium/ebpf's packages gives the same verdicts in
// restored guests as in booted ones (--fresh), test by test.
func TestVMGoTestExecRestoredMatchesFresh(t *testing.T) {
	for _, tc := range []struct{ target, goarch string }{
		{"x86_64-6.12", "amd64"},
		{"arm64-6.1", "arm64"},
		{"s390x-6.12", "s390x"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			requireExecVMs(t, targetNamed(t, tc.target))
			args := []string{"-v", "-run", "^(TestLoadCollectionSpec|TestLoadRawTracepoint|TestTailCall|TestMapWithLock|TestKconfig|TestKsym|TestRingbufReader|TestReaderBlocking|TestPerfReader.*)$",
				"github.com/cilium/ebpf", "github.com/cilium/ebpf/ringbuf", "github.com/cilium/ebpf/perf"}
			restored, code := goTest(t, tc.goarch, "ksystest exec --target "+tc.target, args...)
			require.Equal(t, 0, code, restored)
			fresh, code := goTest(t, tc.goarch, "ksystest exec --fresh --target "+tc.target, args...)
			require.Equal(t, 0, code, fresh)
			require.NotEmpty(t, testVerdicts(fresh))
			assert.Equal(t, testVerdicts(fresh), testVerdicts(restored))
		})
	}
}
