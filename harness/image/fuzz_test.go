package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seed corpora under testdata/fuzz/ (seed-*) are made by
// TestFuzzSeeds; run it with -update-seeds to make them again (the signed
// ones carry the test key's signatures). The other files there are inputs
// the fuzzers found failing, kept as regression tests.
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
			assert.NoError(t, checkSHA256(sum.SHA256), name)
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
	keys := testKeys(f)
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
			assert.NoError(t, errors.Join(checkPackage(p.Name), checkRelPath("Filename", p.Filename), checkSHA256(p.SHA256)))
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
		if err := errors.Join(checkPackage(p.Name), checkRelPath("Filename", p.Filename), checkSHA256(p.SHA256)); err != nil {
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
		if b, err := extractBoot(bytes.NewReader(deb), 1<<20); err == nil {
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

// FuzzInitramfsRoundTrip: files WriteInitramfs accepts come back from the
// archive as the kernel reads it exactly as given, parents before
// children, every added entry a parent directory.
func FuzzInitramfsRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, paths string, kinds, data []byte) {
		files := fuzzFiles(paths, kinds, data)
		var buf bytes.Buffer
		if err := WriteInitramfs(&buf, files); err != nil {
			return
		}
		got, err := readNewc(buf.Bytes())
		require.NoError(t, err)
		byPath := map[string]File{}
		for _, g := range got {
			byPath[g.Path] = g
		}
		for _, want := range files {
			want.Mode &= 0o7777
			switch {
			case want.Dir || want.Char || want.Symlink != "":
				want.Data = nil // accepted only when empty
			case want.Data == nil:
				want.Data = []byte{}
			}
			if !want.Char {
				want.Major, want.Minor = 0, 0
			}
			assert.Equal(t, want, byPath[want.Path])
			delete(byPath, want.Path)
		}
		for p, extra := range byPath {
			assert.Equal(t, File{Path: p, Mode: 0o755, Dir: true}, extra, "added entries are parent directories")
		}
	})
}

// fuzzFiles makes up to 16 files from fuzzed input: one per line of paths,
// of the kind, mode and device the next two bytes of kinds give, with a
// share of data.
func fuzzFiles(paths string, kinds, data []byte) []File {
	lines := strings.Split(paths, "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	var files []File
	for i, p := range lines {
		var kind, mode byte
		if 2*i+1 < len(kinds) {
			kind, mode = kinds[2*i], kinds[2*i+1]
		}
		f := File{Path: p, Mode: uint32(mode)<<4 | uint32(kind>>4)}
		switch {
		case kind%8 == 4:
			f.Symlink = p + "-target"
			if mode%2 == 1 {
				f.Data = data // with data: must be refused
			}
		case kind%4 == 1:
			f.Dir = true
		case kind%4 == 2:
			f.Char, f.Major, f.Minor = true, uint32(kind), uint32(mode)
		default:
			lo, hi := i*len(data)/len(lines), (i+1)*len(data)/len(lines)
			f.Data = data[lo:hi]
			if kind%4 == 3 {
				f.Dir = true // with data: must be refused
			}
		}
		files = append(files, f)
	}
	return files
}

// readNewc reads a newc archive the way the kernel unpacks an initramfs,
// and refuses what it would unpack otherwise than written: a bad header,
// a name twice, an entry whose parent is not a directory before it, data
// on anything but a regular file or a symlink (its target).
func readNewc(b []byte) ([]File, error) {
	var out []File
	isDir := map[string]bool{"": true}
	inodes := map[uint64]bool{}
	for off := 0; ; {
		if off%4 != 0 || off+110 > len(b) {
			return nil, fmt.Errorf("offset %d: short or unaligned header", off)
		}
		if string(b[off:off+6]) != "070701" {
			return nil, fmt.Errorf("offset %d: bad magic", off)
		}
		var field [13]uint64
		for i := range field {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("offset %d: field %d: %w", off, i, err)
			}
			field[i] = v
		}
		ino, mode, nlink, size, rmaj, rmin, namesize, check := field[0], field[1], field[4], field[6], field[9], field[10], field[11], field[12]
		nameEnd := off + 110 + int(namesize)
		if namesize == 0 || nameEnd > len(b) || b[nameEnd-1] != 0 || check != 0 {
			return nil, fmt.Errorf("offset %d: bad name or check", off)
		}
		name := string(b[off+110 : nameEnd-1])
		if strings.IndexByte(name, 0) >= 0 {
			return nil, fmt.Errorf("offset %d: NUL inside the name %q", off, name)
		}
		dataOff := (nameEnd + 3) &^ 3
		if dataOff+int(size) > len(b) {
			return nil, fmt.Errorf("%s: data past the end", name)
		}
		data := b[dataOff : dataOff+int(size)]
		off = (dataOff + int(size) + 3) &^ 3
		if name == trailer {
			if off != len(b) {
				return nil, fmt.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out, nil
		}
		if name == "" || path.Clean(name) != name || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "../") || name == ".." {
			return nil, fmt.Errorf("name %q", name)
		}
		parent := path.Dir(name)
		if parent == "." {
			parent = ""
		}
		if !isDir[parent] {
			return nil, fmt.Errorf("%s: parent %q is not a directory before it", name, parent)
		}
		if _, seen := isDir[name]; seen || inodes[ino] {
			return nil, fmt.Errorf("%s: twice", name)
		}
		inodes[ino] = true
		f := File{Path: "/" + name, Mode: uint32(mode) & 0o7777}
		switch mode &^ 0o7777 {
		case modeDir:
			f.Dir = true
		case modeChar:
			f.Char, f.Major, f.Minor = true, uint32(rmaj), uint32(rmin)
		case modeReg:
			f.Data = append([]byte{}, data...)
		case modeLink:
			if size == 0 {
				return nil, fmt.Errorf("%s: symlink without a target", name)
			}
			f.Symlink = string(data)
		default:
			return nil, fmt.Errorf("%s: mode %o", name, mode)
		}
		if (f.Dir || f.Char) && size > 0 {
			return nil, fmt.Errorf("%s: data on a directory or device", name)
		}
		if wantLinks := map[bool]uint64{true: 2, false: 1}[f.Dir]; nlink != wantLinks {
			return nil, fmt.Errorf("%s: nlink %d", name, nlink)
		}
		isDir[name] = f.Dir
		out = append(out, f)
	}
}

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

// TestFuzzSeeds writes the seed corpora with -update-seeds, and otherwise
// checks that every target has some.
func TestFuzzSeeds(t *testing.T) {
	seeds := fuzzSeeds(t)
	for target, inputs := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateSeeds {
			// Inputs the fuzzers found stay: they are regression tests.
			old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
			for _, o := range old {
				require.NoError(t, os.Remove(o))
			}
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for i, args := range inputs {
				var b strings.Builder
				b.WriteString("go test fuzz v1\n")
				for _, a := range args {
					switch a := a.(type) {
					case []byte:
						fmt.Fprintf(&b, "[]byte(%q)\n", a)
					case string:
						fmt.Fprintf(&b, "string(%q)\n", a)
					}
				}
				require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(b.String()), 0o644))
			}
		}
		entries, err := os.ReadDir(dir)
		require.NoError(t, err, "seed corpus of %s (make it with -update-seeds)", target)
		assert.NotEmpty(t, entries, target)
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
		signed := clearsignTest(t, text)
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
		m := newFakeMirror(t)
		m.publish(t, "bookworm", "amd64", testKernelPackages(t))
		return m.indexes["bookworm"]["amd64"]
	}(t)
	var bench bytes.Buffer
	fmt.Fprintf(&bench, "Package: linux-image-1-amd64\nVersion: 1\nFilename: pool/main/l/x.deb\nSize: 12\nSHA256: %064d\n\n\n\n", 0)

	debs := [][]any{
		{buildDeb(t, "xz", tarEntry{Name: "./boot/config-1", Body: "CONFIG_X=y\n"}, tarEntry{Name: "./boot/vmlinuz-1", Body: "kernel"},
			tarEntry{Name: "./usr/share/doc/x", Body: "doc"})},
		{buildDeb(t, "zst", tarEntry{Name: "./usr/include/bpf/bpf_helpers.h", Body: "helpers"})},
		{buildDeb(t, "gz", tarEntry{Name: "./usr/../../outside", Body: "x"}, tarEntry{Name: "/usr/abs", Body: "x"})},
		{buildDeb(t, "", tarEntry{Name: "./usr/link", Type: tar.TypeSymlink, Linkname: "../../.."},
			tarEntry{Name: "./usr/link/x", Body: "x"}, tarEntry{Name: "./usr/hard", Type: tar.TypeLink, Linkname: "/etc/passwd"})},
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
		"FuzzParseLock": {
			{[]byte("apiVersion: ksystest/v1\nkernels:\n  - target: x86_64-6.1\n    suite: bookworm\n    arch: amd64\n    package: linux-image-6.1.0-50-amd64\n" +
				"    version: 6.1.176-1\n    filename: pool/main/l/x.deb\n    size: 7\n    sha256: " + strings.Repeat("ab", 32) + "\n")},
			{[]byte("apiVersion: ksystest/v1\nkernels:\n  - &k {target: \"a: b\", suite: bookworm-backports, arch: s390x, flavour: s390x, package: linux-image-6.12.9+bpo-s390x, " +
				"version: \"1:6.12.9-1~bpo12+1\", filename: pool/a+b/x~y.deb, size: 1, sha256: " + strings.Repeat("0", 64) + "}\n  - {<<: *k, target: \"#x\"}\n")},
			{[]byte("apiVersion: ksystest/v1\nkernels: !\n")},
			{[]byte("apiVersion: ksystest/v1\nkernels: &k [*k]\n")},
			{[]byte("kernels:\n  - target: t\n    suite: ../x\n    size: -1\n  - target: t\n")},
		},
		"FuzzInitramfsRoundTrip": {
			{"/init\n/dev/console\n/ksystest/cases.json", []byte{0, 0xed, 2, 0x60, 0, 0xa4}, []byte("agent{}")},
			{"/a/b/c\n/a\n/a/b", []byte{0, 0xa4, 1, 0xed, 1, 0xed}, []byte("abc")},
			{"/TRAILER!!!\n/x", []byte(nil), []byte("data")},
			{"relative\n/a/../b\n//c\n/", []byte(nil), []byte(nil)},
		},
	}
}
