// Package archive is a client of a Debian-format package archive,
// Debian's or Ubuntu's (Distro): it finds the mirror in the host's apt
// sources (Ubuntu's, failing those, in debootstrap's scripts), verifies
// the suite's signed InRelease against the archive keyring, reads the Packages indexes it
// lists, downloads packages and checks them against the hashes the signed
// text gives, and reads what is inside a .deb. Everything it returns was
// verified; everything it downloads lands in the cache. It knows nothing
// of kernels or of booting: it imports cache, nothing that boots.
package archive

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrNoMirror means no mirror of a distro's archive was configured
// anywhere.
var ErrNoMirror = errors.New("no mirror")

func (d *Distro) errNoMirror() error {
	where := "or add a " + d.Title + " entry to /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources"
	if d.debootstrap {
		where += ", or install debootstrap, whose scripts name " + d.Title + "'s default mirror"
	}
	return fmt.Errorf("%w of %s's archive: pass %s, set %s, %s", ErrNoMirror, d.Title, d.MirrorFlag, d.MirrorEnv, where)
}

// AptSources are the files mirror discovery reads, in order.
var AptSources = []string{"/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"}

// DebootstrapScripts is where debootstrap keeps its suite scripts.
var DebootstrapScripts = "/usr/share/debootstrap/scripts"

// DiscoverMirror returns Debian's mirror: flag, then environment, then
// the host's apt sources. It also says where the answer came from.
func DiscoverMirror(flag string, sources []string) (mirror, from string, err error) {
	return Debian.DiscoverMirror(flag, sources, "")
}

// DiscoverMirror returns the distro's mirror: flag, then its environment
// variable, then the host's apt sources where they list one of its
// suites, then (Ubuntu on another distro's host) the default mirror
// debootstrap's scripts in the directory scripts give it. It also says
// where the answer came from.
func (d *Distro) DiscoverMirror(flag string, sources []string, scripts string) (mirror, from string, err error) {
	if flag != "" {
		return strings.TrimRight(flag, "/"), d.MirrorFlag, nil
	}
	if env := os.Getenv(d.MirrorEnv); env != "" {
		return strings.TrimRight(env, "/"), d.MirrorEnv, nil
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
				uri = mirrorFromDeb822(string(data), d.OwnsSuite)
			} else {
				uri = mirrorFromOneLine(string(data), d.OwnsSuite)
			}
			if uri != "" {
				return strings.TrimRight(uri, "/"), f, nil
			}
		}
	}
	if d.debootstrap && scripts != "" {
		if uri, script := d.debootstrapMirror(scripts); uri != "" {
			return strings.TrimRight(uri, "/"), script + " (debootstrap's default)", nil
		}
	}
	return "", "", d.errNoMirror()
}

func mirrorFromOneLine(text string, owns func(string) bool) string {
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
		if len(fields) >= 2 && owns(fields[1]) {
			return fields[0]
		}
	}
	return ""
}

func mirrorFromDeb822(text string, owns func(string) bool) string {
	for _, stanza := range strings.Split(text, "\n\n") {
		f := parseStanza(stanza)
		if f["Enabled"] == "no" || !strings.Contains(" "+f["Types"]+" ", " deb ") {
			continue
		}
		uris := strings.Fields(f["URIs"])
		for _, s := range strings.Fields(f["Suites"]) {
			if owns(s) && len(uris) > 0 {
				return uris[0]
			}
		}
	}
	return ""
}

// debootstrapMirror returns the default mirror debootstrap's scripts give
// the distro for amd64 (the archive ksystest reads Ubuntu's kernels from;
// other arches are in another archive), and the script it read. A script
// is the distro's when its keyring line names the distro's keyring; the
// one of a suite missing from an older debootstrap (noble's from Debian
// 12's) is the script its siblings link to, so every script of the
// distro is read alike, for a suite the script makes no exception of.
func (d *Distro) debootstrapMirror(dir string) (mirror, script string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", ""
	}
	seen := map[string]bool{}
	for _, e := range entries {
		p, err := filepath.EvalSymlinks(filepath.Join(dir, e.Name()))
		if err != nil || seen[p] {
			continue
		}
		seen[p] = true
		data, err := os.ReadFile(p)
		if err != nil || !scriptHasKeyring(string(data), d.DefaultKeyring) {
			continue
		}
		if m := scriptMirror(string(data), map[string]string{"ARCH": "amd64", "SUITE": ""}); m != "" {
			return m, p
		}
	}
	return "", ""
}

func scriptHasKeyring(text, keyring string) bool {
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "keyring" && f[1] == keyring {
			return true
		}
	}
	return false
}

// scriptMirror follows the case statements of a debootstrap script with
// the variables vars gives (ARCH, SUITE) and returns the argument of the
// first default_mirror it reaches. It reads only what those scripts use:
// "case $VAR in", "PATTERN|PATTERN)", ";;", "esac", one to a line.
func scriptMirror(text string, vars map[string]string) string {
	type frame struct {
		value          string
		taken, inArm   bool
		parentSelected bool
	}
	var stack []frame
	selected := func() bool {
		if len(stack) == 0 {
			return true
		}
		top := stack[len(stack)-1]
		return top.parentSelected && top.inArm
	}
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		fields := strings.Fields(line)
		switch {
		case len(fields) == 3 && fields[0] == "case" && fields[2] == "in" && strings.HasPrefix(fields[1], "$"):
			v := strings.Trim(strings.TrimPrefix(fields[1], "$"), "{}\"")
			stack = append(stack, frame{value: vars[v], parentSelected: selected()})
		case line == "esac":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case line == ";;":
			if len(stack) > 0 {
				stack[len(stack)-1].inArm = false
			}
		case len(stack) > 0 && !stack[len(stack)-1].inArm && strings.HasSuffix(line, ")") && !strings.Contains(line, " "):
			top := &stack[len(stack)-1]
			for _, pat := range strings.Split(strings.TrimSuffix(line, ")"), "|") {
				if ok, _ := path.Match(pat, top.value); ok && !top.taken {
					top.taken, top.inArm = true, true
				}
			}
		case len(fields) == 2 && fields[0] == "default_mirror" && selected():
			return fields[1]
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
