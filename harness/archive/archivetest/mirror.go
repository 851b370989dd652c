// Package archivetest is a Debian archive for tests (or one laid out as
// Ubuntu's): a mirror on 127.0.0.1 whose InRelease files are signed with
// a fixed test key, packages built on the fly, faults on demand. It is for
// tests only.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// SHA256 is the hex SHA256 of b.
func SHA256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

//go:embed testdata/test-archive.key.asc
var testKeyText []byte

var testKey = sync.OnceValues(func() (openpgp.EntityList, error) {
	return openpgp.ReadArmoredKeyRing(bytes.NewReader(testKeyText))
})

// Keys is the keyring of the test archive key (testdata, tests only):
// a fixed key, so that committed fuzz seeds verify.
func Keys(t testing.TB) openpgp.EntityList {
	keys, err := testKey()
	require.NoError(t, err)
	return keys
}

// Clearsign signs text as an InRelease with the test archive key.
func Clearsign(t testing.TB, text string) []byte {
	var out bytes.Buffer
	// A fixed time and no randomness (the signature's salt): the same
	// text gets the same signature, so committed seeds can be compared.
	config := &packet.Config{Time: func() time.Time { return Date }, Rand: zeros{}}
	w, err := clearsign.Encode(&out, Keys(t)[0].PrivateKey, config)
	require.NoError(t, err)
	_, err = w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TarEntry is one member of a test .deb's data archive.
type TarEntry struct {
	Name     string
	Body     string
	Type     byte // tar.TypeReg when zero
	Linkname string
}

// BuildDeb makes a .deb whose data.tar is compressed with comp ("xz",
// "zst", "gz" or "" for none), the way dpkg-deb lays it out.
func BuildDeb(t testing.TB, comp string, entries ...TarEntry) []byte {
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: 0o644, Typeflag: e.Type, Linkname: e.Linkname}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(e.Body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())

	var data bytes.Buffer
	switch comp {
	case "xz":
		w, err := xz.NewWriter(&data)
		require.NoError(t, err)
		w.Write(tarball.Bytes())
		require.NoError(t, w.Close())
	case "zst":
		w, err := zstd.NewWriter(&data)
		require.NoError(t, err)
		w.Write(tarball.Bytes())
		require.NoError(t, w.Close())
	case "gz":
		w := gzip.NewWriter(&data)
		w.Write(tarball.Bytes())
		require.NoError(t, w.Close())
	case "":
		data = tarball
	}
	member := "data.tar"
	if comp != "" {
		member += "." + comp
	}
	return ArDeb(member, data.Bytes())
}

// ArDeb lays out a .deb (an ar archive) with data as its member.
func ArDeb(member string, data []byte) []byte {
	var deb bytes.Buffer
	deb.WriteString("!<arch>\n")
	add := func(name string, body []byte) {
		fmt.Fprintf(&deb, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", name, 0, 0, 0, "100644", len(body))
		deb.Write(body)
		if len(body)%2 == 1 {
			deb.WriteByte('\n')
		}
	}
	add("debian-binary", []byte("2.0\n"))
	add("control.tar.xz", []byte("odd")) // skipped; its odd size exercises padding
	add(member, data)
	return deb.Bytes()
}

// KernelDeb is a kernel image package: boot files first, then a module,
// as Debian's are laid out.
func KernelDeb(t testing.TB, release, vmlinuz, config string) []byte {
	return BuildDeb(t, "xz",
		TarEntry{Name: "./boot/config-" + release, Body: config},
		TarEntry{Name: "./boot/vmlinuz-" + release, Body: vmlinuz},
		TarEntry{Name: "./lib/modules/" + release + "/x.ko", Body: "module"},
	)
}

// Package is a package of the fake archive; one without a Deb is a
// metapackage nobody downloads.
type Package struct {
	Name, Version, Depends string
	Deb                    []byte
}

func (p Package) Filename() string {
	return "pool/main/" + p.Name[:1] + "/" + p.Name + "/" + p.Name + "_" + p.Version + "_amd64.deb"
}

// Mirror is a Debian archive on 127.0.0.1 signed with the test key.
// Each path counts its requests, and a fault replaces a path's answer.
type Mirror struct {
	srv  *httptest.Server
	keys openpgp.EntityList

	mu      sync.Mutex
	files   map[string][]byte
	hits    map[string]int
	faults  map[string]http.HandlerFunc
	indexes map[string]map[string][]byte // suite → arch → uncompressed Packages
	// stop ends handlers that wait forever, so that srv.Close returns.
	stop chan struct{}
	// root is the mirror's path below the server ("debian").
	root string
	// codename is the Codename a suite's InRelease gives.
	codename func(suite string) string
}

// Date and ValidUntil are the dates of every fake InRelease.
var (
	Date       = time.Date(2026, 7, 11, 10, 16, 37, 0, time.UTC)
	ValidUntil = Date.Add(7 * 24 * time.Hour)
)

func NewMirror(t testing.TB) *Mirror {
	return newMirror(t, "debian", func(suite string) string { return suite })
}

// NewUbuntuMirror is a Mirror laid out as Ubuntu's archive: its pockets
// share their codename (focal-updates' InRelease says Codename: focal).
func NewUbuntuMirror(t testing.TB) *Mirror {
	return newMirror(t, "ubuntu", func(suite string) string { base, _, _ := strings.Cut(suite, "-"); return base })
}

func newMirror(t testing.TB, root string, codename func(string) string) *Mirror {
	m := &Mirror{keys: Keys(t), files: map[string][]byte{}, hits: map[string]int{},
		faults: map[string]http.HandlerFunc{}, indexes: map[string]map[string][]byte{}, stop: make(chan struct{}),
		root: root, codename: codename}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(func() {
		close(m.stop)
		m.srv.Close()
	})
	return m
}

func (m *Mirror) serve(w http.ResponseWriter, r *http.Request) {
	// Web servers resolve ".." in request paths; so does this one.
	p := strings.TrimPrefix(path.Clean(r.URL.Path), "/"+m.root+"/")
	m.mu.Lock()
	m.hits[p]++
	body, ok := m.files[p]
	fault := m.faults[p]
	m.mu.Unlock()
	switch {
	case fault != nil:
		fault(w, r)
	case !ok:
		http.NotFound(w, r)
	default:
		w.Write(body)
	}
}

// URL is the mirror's base URL, as a user would give it.
func (m *Mirror) URL() string { return m.srv.URL + "/" + m.root }

// Publish puts pkgs into suite's main/binary-ARCH index and signs the
// suite's InRelease again; extra lines go into the InRelease.
func (m *Mirror) Publish(t testing.TB, suite, arch string, pkgs []Package, extra ...string) {
	var idx bytes.Buffer
	for _, p := range pkgs {
		deb := p.Deb
		fmt.Fprintf(&idx, "Package: %s\nVersion: %s\nArchitecture: %s\n", p.Name, p.Version, arch)
		if p.Depends != "" {
			fmt.Fprintf(&idx, "Depends: %s\n", p.Depends)
		}
		fmt.Fprintf(&idx, "Description: test package\n a continuation line\nFilename: %s\nSize: %d\nSHA256: %s\n\n",
			p.Filename(), len(deb), SHA256(deb))
		if deb != nil {
			m.Set(p.Filename(), deb)
		}
	}
	m.mu.Lock()
	if m.indexes[suite] == nil {
		m.indexes[suite] = map[string][]byte{}
	}
	m.indexes[suite][arch] = idx.Bytes()
	m.mu.Unlock()
	m.Set("dists/"+suite+"/main/binary-"+arch+"/Packages.xz", XZ(t, idx.Bytes()))
	m.Sign(t, suite, extra...)
}

// Sign writes suite's InRelease for the indexes published, with extra
// lines.
func (m *Mirror) Sign(t testing.TB, suite string, extra ...string) {
	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: ksystest test\nSuite: %s\nCodename: %s\nDate: %s\nValid-Until: %s\n",
		suite, m.codename(suite), Date.Format(time.RFC1123), ValidUntil.Format(time.RFC1123))
	for _, e := range extra {
		rel.WriteString(e + "\n")
	}
	rel.WriteString("SHA256:\n")
	m.mu.Lock()
	var arches []string
	for a := range m.indexes[suite] {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	for _, a := range arches {
		plain := m.indexes[suite][a]
		name := "main/binary-" + a + "/Packages"
		compressed := m.files["dists/"+suite+"/"+name+".xz"]
		fmt.Fprintf(&rel, " %s %8d %s\n %s %8d %s.xz\n", SHA256(plain), len(plain), name, SHA256(compressed), len(compressed), name)
	}
	m.mu.Unlock()
	m.Set("dists/"+suite+"/InRelease", Clearsign(t, rel.String()))
}

func (m *Mirror) Set(p string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[p] = body
}

func (m *Mirror) Get(p string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files[p]
}

// Fault makes p answer with h; nil restores the file.
func (m *Mirror) Fault(p string, h http.HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults[p] = h
}

func (m *Mirror) HitsOf(p string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[p]
}

// Log collects a Fetcher's and a Cache's messages.
type Log struct {
	mu    sync.Mutex
	lines []string
}

func (l *Log) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func XZ(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	w, err := xz.NewWriter(&out)
	require.NoError(t, err)
	w.Write(b)
	require.NoError(t, w.Close())
	return out.Bytes()
}

// The standard kernel of the fake archive, and the metapackage that
// points at it.
const (
	Release = "6.1.0-9-amd64"
	Kernel  = "linux-image-" + Release
	Version = "6.1.9-1"
)

func KernelPackages(t testing.TB) []Package {
	deb := KernelDeb(t, Release, "KERNEL", "CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\nCONFIG_DEBUG_INFO_BTF=y\n")
	return []Package{
		{Name: "linux-image-amd64", Version: "9", Depends: Kernel + " (= " + Version + ")"},
		{Name: Kernel, Version: Version, Deb: deb},
	}
}

// The standard kernel of the fake Ubuntu archive: the flavour's
// metapackage points at the signed image package, which depends on the
// modules package that holds the config, as Ubuntu's do; the unsigned
// image beside it holds the same kernel.
const (
	UbuntuRelease  = "5.4.0-9-generic"
	UbuntuKernel   = "linux-image-" + UbuntuRelease
	UbuntuUnsigned = "linux-image-unsigned-" + UbuntuRelease
	UbuntuModules  = "linux-modules-" + UbuntuRelease
	UbuntuVersion  = "5.4.0-9.10"
	// UbuntuConfig is the config in the modules package.
	UbuntuConfig = "CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\nCONFIG_DEBUG_INFO_BTF=y\n"
)

func UbuntuKernelPackages(t testing.TB) []Package {
	image := func(vmlinuz string) []byte {
		return BuildDeb(t, "xz",
			TarEntry{Name: "./boot/", Type: tar.TypeDir},
			TarEntry{Name: "./boot/vmlinuz-" + UbuntuRelease, Body: vmlinuz},
			TarEntry{Name: "./usr/share/doc/x/copyright", Body: "copyright"})
	}
	modules := BuildDeb(t, "zst",
		TarEntry{Name: "./boot/System.map-" + UbuntuRelease, Body: "ffffffff81000000 T _text\n"},
		TarEntry{Name: "./boot/config-" + UbuntuRelease, Body: UbuntuConfig},
		TarEntry{Name: "./lib/modules/" + UbuntuRelease + "/x.ko", Body: "module"})
	depends := "kmod, linux-base (>= 4.5ubuntu1~16.04.1), " + UbuntuModules
	return []Package{
		{Name: "linux-image-generic", Version: "5.4.0.9.9", Depends: UbuntuKernel + ", linux-modules-extra-" + UbuntuRelease + ", linux-firmware"},
		{Name: UbuntuKernel, Version: UbuntuVersion, Depends: depends, Deb: image("SIGNED KERNEL")},
		{Name: UbuntuUnsigned, Version: UbuntuVersion, Depends: depends, Deb: image("KERNEL")},
		{Name: UbuntuModules, Version: UbuntuVersion, Depends: UbuntuKernel + " | " + UbuntuUnsigned, Deb: modules},
	}
}

// Corrupt makes the next n answers for p carry a changed first byte.
func (m *Mirror) Corrupt(p string, n int) {
	left := n
	m.Fault(p, func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		left--
		body := m.files[p]
		if left >= 0 {
			body = append([]byte("X"), body[1:]...)
		}
		m.mu.Unlock()
		w.Write(body)
	})
}

// Index is the uncompressed Packages index of suite and arch as
// published.
func (m *Mirror) Index(suite, arch string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.indexes[suite][arch]
}

// SetIndex replaces what Sign lists as suite and arch's uncompressed
// index (an edited index the signed text no longer vouches for).
func (m *Mirror) SetIndex(suite, arch string, index []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.indexes[suite][arch] = index
}

// Keys of the mirror, as a Fetcher verifies its InRelease files with.
func (m *Mirror) Keys() openpgp.EntityList { return m.keys }

// Stopping is closed when the test ends: a fault that waits for ever
// waits on it, so that the server can close.
func (m *Mirror) Stopping() <-chan struct{} { return m.stop }

// Close shuts the mirror down now: it no longer answers (a mirror gone
// offline).
func (m *Mirror) Close() { m.srv.Close() }

// Requests is how many requests the mirror has answered, all paths told.
func (m *Mirror) Requests() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, h := range m.hits {
		n += h
	}
	return n
}
