package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/internal/fuzzseed"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz seed corpora")

// FuzzParseRelease: any text parses or fails without panicking, and what
// parses has only plain hashes and sizes.
func FuzzParseRelease(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) {
		rel, err := ParseRelease(text)
		if err != nil {
			return
		}
		for name, sum := range rel.Files {
			assert.NoError(t, CheckSHA256(sum.SHA256), name)
			assert.GreaterOrEqual(t, sum.Size, int64(0), name)
		}
	})
}

// signedReleases are the texts the test key signed for the seeds of
// FuzzVerifyInRelease: the only releases it may ever verify.
var signedReleases = []string{
	"Origin: ksystest test\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: Sat, 18 Jul 2026 10:16:37 UTC\nSHA256:\n" +
		" " + strings.Repeat("ab", 32) + "  1906411 main/binary-amd64/Packages\n" +
		" " + strings.Repeat("cd", 32) + "   300424 main/binary-amd64/Packages.xz\n",
	"Suite: oldstable-backports\nCodename: bookworm-backports\nDate: Tue, 24 Nov 2026 02:12:15 UTC\nSHA256:\n" +
		" " + strings.Repeat("01", 32) + " 10 main/binary-s390x/Packages.xz\n" +
		"- dash-escaped: not a field\n",
}

// FuzzVerifyInRelease: any input verifies or fails without panicking, and
// a verified result comes from a text the key signed, whatever unsigned
// text surrounds it.
func FuzzVerifyInRelease(f *testing.F) {
	keys := archivetest.Keys(f)
	var want []*Release
	for _, text := range signedReleases {
		rel, err := ParseRelease([]byte(text))
		require.NoError(f, err)
		want = append(want, rel)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := VerifyInRelease(data, keys)
		if err != nil {
			return
		}
		assert.Contains(t, want, rel, "verified, but not a signed text")
	})
}

// FuzzParsePackages: any index parses or fails without panicking; what it
// keeps has plain names, hashes and file names; and it reads indexes as a
// plain line-by-line parser does.
func FuzzParsePackages(f *testing.F) {
	f.Fuzz(func(t *testing.T, index []byte) {
		keep := func(n string) bool { return strings.HasPrefix(n, "linux-") }
		pkgs, err := ParsePackages(bytes.NewReader(index), keep)
		ref, refErr := parsePackagesByLine(index, keep)
		if err != nil {
			assert.Error(t, refErr, "ParsePackages: %v", err)
			return
		}
		require.NoError(t, refErr)
		assert.Equal(t, ref, pkgs)
		for _, p := range pkgs {
			assert.NoError(t, errors.Join(CheckPackage(p.Name), CheckRelPath("Filename", p.Filename), CheckSHA256(p.SHA256)))
			assert.GreaterOrEqual(t, p.Size, int64(0))
		}
	})
}

// parsePackagesByLine is the obvious Packages parser, one line at a time,
// with ParsePackages' rules: what ParsePackages must agree with.
func parsePackagesByLine(index []byte, keep func(string) bool) ([]Package, error) {
	var out []Package
	for _, stanza := range splitStanzas(index) {
		var p Package
		kept := true
		for _, line := range strings.Split(stanza, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if line == "" || line[0] == ' ' || line[0] == '\t' || !ok || !kept {
				continue
			}
			v = strings.TrimSpace(v)
			switch k {
			case "Package":
				p.Name, kept = v, keep(v)
			case "Version":
				p.Version = v
			case "Architecture":
				p.Arch = v
			case "Filename":
				p.Filename = v
			case "SHA256":
				p.SHA256 = v
			case "Size":
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("size %q", v)
				}
				p.Size = n
			case "Depends":
				p.Depends = v
			case "Source":
				p.Source = v
			}
		}
		if p.Name == "" || !kept {
			continue
		}
		if p.Filename == "" || p.SHA256 == "" {
			return nil, errors.New("no Filename or SHA256")
		}
		if err := errors.Join(CheckPackage(p.Name), CheckRelPath("Filename", p.Filename), CheckSHA256(p.SHA256)); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// splitStanzas splits at empty lines.
func splitStanzas(index []byte) []string {
	var out []string
	var cur []string
	for _, line := range strings.Split(string(index), "\n") {
		if line == "" {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, "\n"))
			}
			cur = nil
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}

// FuzzWalkDeb: any .deb (ar, then tar compressed or not) walks or fails
// without panicking, extraction holds no more than its bound in memory or
// on disk, and ExtractTree writes nothing outside dest.
func FuzzWalkDeb(f *testing.F) {
	f.Fuzz(func(t *testing.T, deb []byte) {
		WalkDeb(bytes.NewReader(deb), func(name string, hdr *tar.Header, body io.Reader) error {
			_, err := io.CopyN(io.Discard, body, 1<<20)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return err
		})
		if b, err := extractBoot(bytes.NewReader(deb), BootVmlinuz|BootConfig, 1<<20); err == nil {
			assert.LessOrEqual(t, len(b.Vmlinuz), 1<<20)
			assert.LessOrEqual(t, len(b.Config), 1<<20)
		}
		root := t.TempDir()
		dest := filepath.Join(root, "a", "dest")
		extractTree(bytes.NewReader(deb), "usr", dest, 1<<20)
		var written int64
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			require.NoError(t, err)
			if p == root || p == filepath.Dir(dest) || p == dest {
				return nil
			}
			assert.True(t, strings.HasPrefix(p, dest+string(filepath.Separator)), "%s written outside dest", p)
			assert.True(t, d.IsDir() || d.Type().IsRegular(), "%s: a link", p)
			if info, err := d.Info(); err == nil && d.Type().IsRegular() {
				written += info.Size()
			}
			return nil
		})
		assert.LessOrEqual(t, written, int64(1<<20))
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
	recorded, err := os.ReadFile("testdata/bookworm-backports.InRelease")
	require.NoError(t, err)
	// Seeds need the shape of a real InRelease, not the URL in it.
	recorded = regexp.MustCompile(`(?m)^Changelogs: .*\n`).ReplaceAll(recorded, nil)
	block, _ := clearsign.Decode(recorded)
	require.NotNil(t, block)

	var verify [][]any
	for _, text := range signedReleases {
		signed := archivetest.Clearsign(t, text)
		unsigned := "SHA256:\n " + strings.Repeat("0", 64) + " 1 main/binary-amd64/Packages\n"
		verify = append(verify,
			[]any{signed},
			[]any{append(append([]byte{}, signed...), unsigned...)},
			[]any{append([]byte(unsigned+"\n"), signed...)},
			[]any{signed[:len(signed)/2]},
			[]any{bytes.Replace(signed, []byte("Date:"), []byte("Date: "), 1)},
		)
	}
	verify = append(verify, []any{recorded})

	kernelIndex := func(t testing.TB) []byte {
		m := archivetest.NewMirror(t)
		m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
		return m.Index("bookworm", "amd64")
	}(t)
	var bench bytes.Buffer
	fmt.Fprintf(&bench, "Package: linux-image-1-amd64\nVersion: 1\nFilename: pool/main/l/x.deb\nSize: 12\nSHA256: %064d\n\n\n\n", 0)

	debs := [][]any{
		{archivetest.BuildDeb(t, "xz", archivetest.TarEntry{Name: "./boot/config-1", Body: "CONFIG_X=y\n"}, archivetest.TarEntry{Name: "./boot/vmlinuz-1", Body: "kernel"},
			archivetest.TarEntry{Name: "./usr/share/doc/x", Body: "doc"})},
		{archivetest.BuildDeb(t, "zst", archivetest.TarEntry{Name: "./usr/include/bpf/bpf_helpers.h", Body: "helpers"})},
		{archivetest.BuildDeb(t, "gz", archivetest.TarEntry{Name: "./usr/../../outside", Body: "x"}, archivetest.TarEntry{Name: "/usr/abs", Body: "x"})},
		{archivetest.BuildDeb(t, "", archivetest.TarEntry{Name: "./usr/link", Type: tar.TypeSymlink, Linkname: "../../.."},
			archivetest.TarEntry{Name: "./usr/link/x", Body: "x"}, archivetest.TarEntry{Name: "./usr/hard", Type: tar.TypeLink, Linkname: "/etc/passwd"})},
		{[]byte(arMagic)},
		{[]byte(arMagic + "data.tar.xz     0           0     0     100644  99999999  `\n")},
	}

	return map[string][][]any{
		"FuzzParseRelease": {
			{block.Plaintext},
			{[]byte(signedReleases[0])},
			{[]byte(signedReleases[1])},
			{[]byte("Codename: x\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nSHA256:\n zz 1 a\n")},
		},
		"FuzzVerifyInRelease": verify,
		"FuzzParsePackages": {
			{kernelIndex},
			{bench.Bytes()},
			{[]byte("Package: linux-x\nFilename: ../x\nSHA256: 1\n")},
			{[]byte("\n\nPackage: linux-y\n Package: continued\nSize: -1\n")},
		},
		"FuzzWalkDeb": debs,
	}
}
