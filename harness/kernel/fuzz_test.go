package kernel

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/internal/fuzzseed"
	"github.com/stretchr/testify/require"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora")

// FuzzParseLock: any lock file parses or is an error naming it, without
// panicking; what parses is valid, and what ksystest lock would write of
// it parses back the same.
func FuzzParseLock(f *testing.F) {
	committed, err := os.ReadFile("../../images/kernels.lock")
	require.NoError(f, err)
	f.Add(committed)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLock("kernels.lock", data)
		if err != nil {
			require.ErrorContains(t, err, "kernels.lock")
			return
		}
		require.Empty(t, l.validate())
		text, err := l.encode()
		require.NoError(t, err)
		again, err := ParseLock("kernels.lock", text)
		require.NoError(t, err, "ksystest lock writes what it cannot read:\n%s", text)
		require.Equal(t, l.APIVersion, again.APIVersion)
		require.Equal(t, len(l.Kernels), len(again.Kernels))
		for i := range l.Kernels {
			require.Equal(t, l.Kernels[i], again.Kernels[i])
		}
	})
}

// TestFuzzSeeds keeps the seed corpora under testdata/fuzz/ what fuzzSeeds
// makes; run it with -update-seeds to write them (the signed ones carry
// the test key's signatures, made at a fixed time). The other files there
// are inputs the fuzzers found failing, kept as regression tests.
func TestFuzzSeeds(t *testing.T) {
	for target, inputs := range fuzzSeeds(t) {
		fuzzseed.Corpus(t, target, inputs, *updateSeeds)
	}
}

func fuzzSeeds(t *testing.T) map[string][][]any {
	return map[string][][]any{
		"FuzzParseLock": {
			{[]byte("apiVersion: ksystest/v1\nkernels:\n  - target: x86_64-6.1\n    suite: bookworm\n    arch: amd64\n    package: linux-image-6.1.0-50-amd64\n" +
				"    version: 6.1.176-1\n    filename: pool/main/l/x.deb\n    size: 7\n    sha256: " + strings.Repeat("ab", 32) + "\n")},
			{[]byte("apiVersion: ksystest/v1\nkernels:\n  - &k {target: \"a: b\", suite: bookworm-backports, arch: s390x, flavour: s390x, package: linux-image-6.12.9+bpo-s390x, " +
				"version: \"1:6.12.9-1~bpo12+1\", filename: pool/a+b/x~y.deb, size: 1, sha256: " + strings.Repeat("0", 64) + "}\n  - {<<: *k, target: \"#x\"}\n")},
			{[]byte("apiVersion: ksystest/v1\nkernels: !\n")},
			{[]byte("apiVersion: ksystest/v1\nkernels: &k [*k]\n")},
			{[]byte("kernels:\n  - target: t\n    suite: ../x\n    size: -1\n  - target: t\n")},
		},
	}
}
