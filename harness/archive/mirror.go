// Package archive is a client of a Debian-format package archive: it
// finds the mirror in the host's apt sources, verifies the suite's signed
// InRelease against the archive keyring, reads the Packages indexes it
// lists, downloads packages and checks them against the hashes the signed
// text gives, and reads what is inside a .deb. Everything it returns was
// verified; everything it downloads lands in the cache. It knows nothing
// of kernels or of booting: it imports cache, nothing that boots.
package archive

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// MirrorEnv names the environment variable that overrides the mirror.
const MirrorEnv = "KSYSTEST_DEBIAN_MIRROR"

// ErrNoMirror means no Debian mirror was configured anywhere.
var ErrNoMirror = errors.New("no Debian mirror: pass --debian-mirror, set " + MirrorEnv +
	", or add a Debian entry to /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources")

// AptSources are the files mirror discovery reads, in order.
var AptSources = []string{"/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"}

// DiscoverMirror returns the mirror to use: flag, then environment, then
// the host's apt sources. It also says where the answer came from.
func DiscoverMirror(flag string, sources []string) (mirror, from string, err error) {
	if flag != "" {
		return strings.TrimRight(flag, "/"), "--debian-mirror", nil
	}
	if env := os.Getenv(MirrorEnv); env != "" {
		return strings.TrimRight(env, "/"), MirrorEnv, nil
	}
	for _, pattern := range sources {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			var uri string
			if strings.HasSuffix(f, ".sources") {
				uri = mirrorFromDeb822(string(data))
			} else {
				uri = mirrorFromOneLine(string(data))
			}
			if uri != "" {
				return strings.TrimRight(uri, "/"), f, nil
			}
		}
	}
	return "", "", ErrNoMirror
}

// debianSuite reports whether suite is one of Debian's main suites (not
// security, which lives in another archive with another layout).
func debianSuite(suite string) bool {
	base, _, _ := strings.Cut(suite, "-")
	if strings.Contains(suite, "security") {
		return false
	}
	switch base {
	case "buster", "bullseye", "bookworm", "trixie", "forky", "sid", "stable", "testing", "unstable", "oldstable":
		return true
	}
	return false
}

func mirrorFromOneLine(text string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] != "deb" {
			continue
		}
		fields = fields[1:]
		if strings.HasPrefix(fields[0], "[") {
			for len(fields) > 0 && !strings.HasSuffix(fields[0], "]") {
				fields = fields[1:]
			}
			if len(fields) > 0 {
				fields = fields[1:]
			}
		}
		if len(fields) >= 2 && debianSuite(fields[1]) {
			return fields[0]
		}
	}
	return ""
}

func mirrorFromDeb822(text string) string {
	for _, stanza := range strings.Split(text, "\n\n") {
		f := parseStanza(stanza)
		if f["Enabled"] == "no" || !strings.Contains(" "+f["Types"]+" ", " deb ") {
			continue
		}
		uris := strings.Fields(f["URIs"])
		for _, s := range strings.Fields(f["Suites"]) {
			if debianSuite(s) && len(uris) > 0 {
				return uris[0]
			}
		}
	}
	return ""
}

// parseStanza reads one deb822 paragraph: "Key: value" lines, continuation
// lines start with a space, comments with #. A Release's SHA256 field has
// thousands of continuation lines: they are joined once, at the end.
func parseStanza(text string) map[string]string {
	lines := map[string][]string{}
	var last string
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t"):
			if last != "" {
				lines[last] = append(lines[last], strings.TrimSpace(line))
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if ok {
				last = strings.TrimSpace(k)
				lines[last] = []string{strings.TrimSpace(v)}
			}
		}
	}
	fields := make(map[string]string, len(lines))
	for k, v := range lines {
		fields[k] = strings.Join(v, "\n")
	}
	return fields
}
