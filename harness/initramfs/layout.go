package initramfs

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ksystest/ksystest/internal/yamlfile"
)

// Layouts say what each kind of guest holds in its initramfs
// (images/initramfs.yaml): the data, where the code fills in contents.
type Layouts struct {
	APIVersion string                   `yaml:"apiVersion"`
	Guests     map[string][]LayoutEntry `yaml:"guests"`
}

// LayoutEntry is one path of a guest's initramfs: a file or directory
// from Source, a character device (Char "MAJOR:MINOR") or a directory.
// {release} in Path is the kernel's release.
type LayoutEntry struct {
	Path   string `yaml:"path"`
	Mode   string `yaml:"mode"`
	Source string `yaml:"source"`
	Char   string `yaml:"char"`
	Dir    bool   `yaml:"dir"`
}

// LayoutSources are the sources each kind of guest's entries may name.
var LayoutSources = map[string][]string{
	"agent": {"agent", "catalogue", "probes", "collections", "workloads", "kernel-config", "btf", "compat", "libbpf"},
	"exec":  {"exec-init", "kernel-config", "busybox", "program"},
	"floor": {"poweroff"},
}

// ReadLayouts reads and checks the layouts file name in fsys, strictly.
func ReadLayouts(fsys fs.FS, name string) (*Layouts, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var l Layouts
	if err := yamlfile.Load(name, data, &l, l.validate); err != nil {
		return nil, err
	}
	return &l, nil
}

func (l *Layouts) validate() []yamlfile.Problem {
	var ps []yamlfile.Problem
	if l.APIVersion != yamlfile.APIVersion {
		ps = append(ps, yamlfile.Problemf("apiVersion", "is %q, want %q", l.APIVersion, yamlfile.APIVersion))
	}
	kinds := make([]string, 0, len(LayoutSources))
	for k := range LayoutSources {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		if _, ok := l.Guests[kind]; !ok {
			ps = append(ps, yamlfile.Problemf("guests", "no %s guest", kind))
		}
	}
	for kind, entries := range l.Guests {
		allowed, ok := LayoutSources[kind]
		if !ok {
			ps = append(ps, yamlfile.Problemf("guests."+kind, "unknown kind of guest: want %s", strings.Join(kinds, ", ")))
			continue
		}
		seen := map[string]bool{}
		for i, e := range entries {
			p := fmt.Sprintf("guests.%s[%d]", kind, i)
			if !strings.HasPrefix(e.Path, "/") || path.Clean(e.Path) != e.Path {
				ps = append(ps, yamlfile.Problemf(p+".path", "%q: want a clean absolute path", e.Path))
			}
			if seen[e.Path] {
				ps = append(ps, yamlfile.Problemf(p+".path", "%q twice", e.Path))
			}
			seen[e.Path] = true
			kinds := 0
			for _, set := range []bool{e.Source != "", e.Char != "", e.Dir} {
				if set {
					kinds++
				}
			}
			if kinds != 1 {
				ps = append(ps, yamlfile.Problemf(p, "give one of source, char or dir"))
			}
			if e.Source != "" && !slices.Contains(allowed, e.Source) {
				ps = append(ps, yamlfile.Problemf(p+".source", "%q: a %s guest's sources are %s", e.Source, kind, strings.Join(allowed, ", ")))
			}
			if e.Char != "" {
				if _, _, err := e.Device(); err != nil {
					ps = append(ps, yamlfile.Problemf(p+".char", "%v", err))
				}
			}
			if _, err := e.FileMode(); err != nil {
				ps = append(ps, yamlfile.Problemf(p+".mode", "%v", err))
			}
			if strings.Contains(strings.ReplaceAll(e.Path, "{release}", ""), "{") {
				ps = append(ps, yamlfile.Problemf(p+".path", "%q: the only placeholder is {release}", e.Path))
			}
		}
	}
	return ps
}

// FileMode is the entry's mode (octal, "0644"); 0 when none is given.
func (e LayoutEntry) FileMode() (uint32, error) {
	if e.Mode == "" {
		return 0, nil
	}
	m, err := strconv.ParseUint(e.Mode, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("mode %q: want octal permissions like 0644", e.Mode)
	}
	return uint32(m), nil
}

// Device is a char entry's major and minor numbers.
func (e LayoutEntry) Device() (major, minor uint32, err error) {
	a, b, ok := strings.Cut(e.Char, ":")
	x, err1 := strconv.ParseUint(a, 10, 32)
	y, err2 := strconv.ParseUint(b, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("char %q: want MAJOR:MINOR", e.Char)
	}
	return uint32(x), uint32(y), nil
}

// Files lays out a guest of kind from the layouts: each entry's contents
// from its source (fill returns the files for an entry, or none to leave
// it out), char devices and directories as the entry says.
func (l *Layouts) Files(kind, release string, fill func(e LayoutEntry, mode uint32) ([]File, error)) ([]File, error) {
	entries, ok := l.Guests[kind]
	if !ok {
		return nil, fmt.Errorf("the initramfs layouts have no %s guest", kind)
	}
	var out []File
	for _, e := range entries {
		e.Path = strings.ReplaceAll(e.Path, "{release}", release)
		mode, err := e.FileMode()
		if err != nil {
			return nil, err
		}
		switch {
		case e.Char != "":
			major, minor, err := e.Device()
			if err != nil {
				return nil, err
			}
			out = append(out, File{Path: e.Path, Mode: mode, Char: true, Major: major, Minor: minor})
		case e.Dir:
			out = append(out, File{Path: e.Path, Mode: mode, Dir: true})
		default:
			files, err := fill(e, mode)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Path, err)
			}
			out = append(out, files...)
		}
	}
	return out, nil
}
