package matrix

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"
	"github.com/ksystest/ksystest/internal/yamlfile"
)

// Problem is one thing wrong with a config file, located by YAML path and,
// where the file has that path, by line.
type Problem struct {
	File string
	Line int
	// Path is the YAML path of the offending key ("targets[1].arch").
	Path string
	Msg  string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Path, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// ConfigError lists every problem found in a config file.
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// config is a file loadFile can read: defaults, then validation.
type config interface {
	ApplyDefaults()
	Validate() []Problem
}

// source is a config file to read: on disk, or one of ksystest's own
// (the default matrix and catalogue, carried in the binary).
type source struct {
	fsys fs.FS
	name string // path inside fsys
	// display is how problems name the file.
	display string
	// disk is the directory of a file on disk, against which its paths
	// resolve; empty for ksystest's own files.
	disk string
}

func diskFS(file string) source {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	return source{fsys: os.DirFS(filepath.Dir(abs)), name: filepath.Base(abs), display: file, disk: filepath.Dir(abs)}
}

func builtinFS(fsys fs.FS, name string) source {
	return source{fsys: fsys, name: name, display: "ksystest's " + name}
}

func (s source) dir() string { return s.disk }

// sibling is the file at p relative to s: on disk, or beside it in s's
// file system.
func (s source) sibling(p string) source {
	if s.disk != "" {
		if filepath.IsAbs(p) {
			return diskFS(p)
		}
		return diskFS(filepath.Join(s.disk, p))
	}
	name := path.Join(path.Dir(s.name), p)
	return source{fsys: s.fsys, name: name, display: "ksystest's " + name}
}

// path is s's path on disk, or empty for a file carried in the binary.
func (s source) path() string {
	if s.disk == "" {
		return ""
	}
	return filepath.Join(s.disk, s.name)
}

// loadFile reads src into v strictly, applies v's defaults and validates
// it, locating every problem in the file.
func loadFile(src source, v config) error {
	data, err := yamlfile.Read(src.fsys, src.name)
	if err != nil {
		return &ConfigError{Problems: []Problem{{File: src.display, Msg: err.Error()}}}
	}
	if err := decodeStrict(src.display, data, v); err != nil {
		return err
	}
	v.ApplyDefaults()
	if problems := v.Validate(); len(problems) > 0 {
		return &ConfigError{Problems: locate(src.display, data, problems)}
	}
	return nil
}

// decodeStrict decodes data into v, refusing unknown keys, wrong types and
// what would make the decoder work without bound, and names file, line
// and key in the error.
func decodeStrict(file string, data []byte, v any) error {
	err := yamlfile.Decode(data, v)
	if err == nil {
		return nil
	}
	p := Problem{File: file, Msg: err.Error()}
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		p.Msg = yerr.GetMessage()
		if tk := yerr.GetToken(); tk != nil && tk.Position != nil {
			p.Line = tk.Position.Line
			if key := keyOf(tk); key != "" && !strings.Contains(p.Msg, `"`+key+`"`) {
				p.Msg = fmt.Sprintf("key %q: %s", key, p.Msg)
			}
		}
	}
	return &ConfigError{Problems: []Problem{p}}
}

// keyOf returns the mapping key a value token belongs to, so a type
// error names the key and not only Go's struct field.
func keyOf(tk *token.Token) string {
	p := tk.Prev
	if p != nil && p.Type == token.MappingValueType {
		p = p.Prev
	}
	if p == nil || p.Next == nil || p.Next.Type != token.MappingValueType {
		return ""
	}
	return p.Value
}

// locate fills in the line of each problem from its YAML path, and sorts
// them by line so they read top to bottom.
func locate(file string, data []byte, problems []Problem) []Problem {
	doc, err := yamlfile.Parse(data)
	for i := range problems {
		problems[i].File = file
		if err == nil && problems[i].Path != "" {
			problems[i].Line = yamlfile.Line(doc, problems[i].Path)
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	return problems
}
