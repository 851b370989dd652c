package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

var testKey = sync.OnceValues(func() (openpgp.EntityList, error) {
	data, err := os.ReadFile("testdata/test-archive.key.asc")
	if err != nil {
		return nil, err
	}
	return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
})

// testKeys is the keyring of the test archive key (testdata, tests only):
// a fixed key, so that committed fuzz seeds verify.
func testKeys(t testing.TB) openpgp.EntityList {
	keys, err := testKey()
	require.NoError(t, err)
	return keys
}

// clearsignTest signs text as an InRelease with the test archive key.
func clearsignTest(t testing.TB, text string) []byte {
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, testKeys(t)[0].PrivateKey, nil)
	require.NoError(t, err)
	_, err = w.Write([]byte(text))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return out.Bytes()
}

// tarEntry is one member of a test .deb's data archive.
type tarEntry struct {
	Name     string
	Body     string
	Type     byte // tar.TypeReg when zero
	Linkname string
}

// buildDeb makes a .deb whose data.tar is compressed with comp ("xz",
// "zst", "gz" or "" for none), the way dpkg-deb lays it out.
func buildDeb(t testing.TB, comp string, entries ...tarEntry) []byte {
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
	return arDeb(member, data.Bytes())
}

// arDeb lays out a .deb (an ar archive) with data as its member.
func arDeb(member string, data []byte) []byte {
	var deb bytes.Buffer
	deb.WriteString(arMagic)
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

// kernelDeb is a kernel image package: boot files first, then a module,
// as Debian's are laid out.
func kernelDeb(t testing.TB, release, vmlinuz, config string) []byte {
	return buildDeb(t, "xz",
		tarEntry{Name: "./boot/config-" + release, Body: config},
		tarEntry{Name: "./boot/vmlinuz-" + release, Body: vmlinuz},
		tarEntry{Name: "./lib/modules/" + release + "/x.ko", Body: "module"},
	)
}

// fakePackage is a package of the fake archive; one without a Deb is a
// metapackage nobody downloads.
type fakePackage struct {
	Name, Version, Depends string
	Deb                    []byte
}

func (p fakePackage) filename() string {
	return "pool/main/" + p.Name[:1] + "/" + p.Name + "/" + p.Name + "_" + p.Version + "_amd64.deb"
}

// fakeMirror is a Debian archive on 127.0.0.1 signed with the test key.
// Each path counts its requests, and a fault replaces a path's answer.
type fakeMirror struct {
	srv  *httptest.Server
	keys openpgp.EntityList

	mu      sync.Mutex
	files   map[string][]byte
	hits    map[string]int
	faults  map[string]http.HandlerFunc
	indexes map[string]map[string][]byte // suite → arch → uncompressed Packages
	// stop ends handlers that wait forever, so that srv.Close returns.
	stop chan struct{}
}

// mirrorDate and mirrorValidUntil are the dates of every fake InRelease.
var (
	mirrorDate       = time.Date(2026, 7, 11, 10, 16, 37, 0, time.UTC)
	mirrorValidUntil = mirrorDate.Add(7 * 24 * time.Hour)
)

func newFakeMirror(t testing.TB) *fakeMirror {
	m := &fakeMirror{keys: testKeys(t), files: map[string][]byte{}, hits: map[string]int{},
		faults: map[string]http.HandlerFunc{}, indexes: map[string]map[string][]byte{}, stop: make(chan struct{})}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(func() {
		close(m.stop)
		m.srv.Close()
	})
	return m
}

func (m *fakeMirror) serve(w http.ResponseWriter, r *http.Request) {
	// Web servers resolve ".." in request paths; so does this one.
	p := strings.TrimPrefix(path.Clean(r.URL.Path), "/debian/")
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
func (m *fakeMirror) URL() string { return m.srv.URL + "/debian" }

// publish puts pkgs into suite's main/binary-ARCH index and signs the
// suite's InRelease again; extra lines go into the InRelease.
func (m *fakeMirror) publish(t testing.TB, suite, arch string, pkgs []fakePackage, extra ...string) {
	var idx bytes.Buffer
	for _, p := range pkgs {
		deb := p.Deb
		fmt.Fprintf(&idx, "Package: %s\nVersion: %s\nArchitecture: %s\n", p.Name, p.Version, arch)
		if p.Depends != "" {
			fmt.Fprintf(&idx, "Depends: %s\n", p.Depends)
		}
		fmt.Fprintf(&idx, "Description: test package\n a continuation line\nFilename: %s\nSize: %d\nSHA256: %s\n\n",
			p.filename(), len(deb), sha(deb))
		if deb != nil {
			m.set(p.filename(), deb)
		}
	}
	m.mu.Lock()
	if m.indexes[suite] == nil {
		m.indexes[suite] = map[string][]byte{}
	}
	m.indexes[suite][arch] = idx.Bytes()
	m.mu.Unlock()
	m.set("dists/"+suite+"/main/binary-"+arch+"/Packages.xz", xzBytes(t, idx.Bytes()))
	m.sign(t, suite, extra...)
}

// sign writes suite's InRelease for the indexes published, with extra
// lines.
func (m *fakeMirror) sign(t testing.TB, suite string, extra ...string) {
	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: ksystest test\nSuite: %s\nCodename: %s\nDate: %s\nValid-Until: %s\n",
		suite, suite, mirrorDate.Format(time.RFC1123), mirrorValidUntil.Format(time.RFC1123))
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
		fmt.Fprintf(&rel, " %s %8d %s\n %s %8d %s.xz\n", sha(plain), len(plain), name, sha(compressed), len(compressed), name)
	}
	m.mu.Unlock()
	m.set("dists/"+suite+"/InRelease", clearsignTest(t, rel.String()))
}

func (m *fakeMirror) set(p string, body []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[p] = body
}

func (m *fakeMirror) get(p string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files[p]
}

// fault makes p answer with h; nil restores the file.
func (m *fakeMirror) fault(p string, h http.HandlerFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults[p] = h
}

func (m *fakeMirror) hitsOf(p string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[p]
}

// logLines collects a Fetcher's and a Cache's messages.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// fetcher is a Fetcher of m with short timeouts and backoff, on a cache
// in cache's directory; both report to logs.
func (m *fakeMirror) fetcher(cache *Cache, logs *logLines) *Fetcher {
	return &Fetcher{
		Mirror: m.URL(), Keys: m.keys, Cache: &Cache{Dir: cache.Dir, Logf: logs.logf}, Logf: logs.logf,
		Attempts: 3, Backoff: time.Millisecond,
		ConnectTimeout: 5 * time.Second, HeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		Now: func() time.Time { return mirrorDate.Add(time.Hour) }, CheckValidUntil: true,
	}
}

func xzBytes(t testing.TB, b []byte) []byte {
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
	testRelease = "6.1.0-9-amd64"
	testKernel  = "linux-image-" + testRelease
	testVersion = "6.1.9-1"
)

func testKernelPackages(t testing.TB) []fakePackage {
	deb := kernelDeb(t, testRelease, "KERNEL", "CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\nCONFIG_DEBUG_INFO_BTF=y\n")
	return []fakePackage{
		{Name: "linux-image-amd64", Version: "9", Depends: testKernel + " (= " + testVersion + ")"},
		{Name: testKernel, Version: testVersion, Deb: deb},
	}
}

// corrupt makes the next n answers for p carry a changed first byte.
func (m *fakeMirror) corrupt(p string, n int) {
	left := n
	m.fault(p, func(w http.ResponseWriter, r *http.Request) {
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
