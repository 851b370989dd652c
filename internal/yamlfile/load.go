package yamlfile

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"
)

// APIVersion is the format of every YAML file ksystest reads: the matrix
// and case catalogues, the kernel lock, the BTF recipe and the initramfs
// layouts.
const APIVersion = "ksystest/v1"

// Problem is one thing wrong with a file, located by YAML path and, where
// the file has that path (or the mapping a missing key belongs in), by
// line.
type Problem struct {
	File string
	Line int
	// Path is the YAML path of the offending key ("targets[1].arch").
	Path string
	Msg  string
}

// Problemf is a problem at path, for a file's check.
func Problemf(path, format string, args ...any) Problem {
	return Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
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

// Error lists every problem found in a file, a line each.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load decodes data (the contents of file) into v strictly, then calls
// check (when not nil) on what it decoded. What is wrong comes back as
// an *Error naming file, line and key: a decoding error alone, or every
// problem check found, top to bottom.
func Load(file string, data []byte, v any, check func() []Problem) error {
	if err := DecodeStrict(file, data, v); err != nil {
		return err
	}
	if check == nil {
		return nil
	}
	if problems := check(); len(problems) > 0 {
		return &Error{Problems: Locate(file, data, problems)}
	}
	return nil
}

// DecodeStrict decodes data into v, refusing unknown keys, wrong types and
// what would make the decoder work without bound; the *Error names file,
// line and key.
func DecodeStrict(file string, data []byte, v any) error {
	err := Decode(data, v)
	if err == nil {
		return nil
	}
	p := Problem{File: file, Msg: err.Error()}
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		p.Msg = yerr.GetMessage()
		if tk := yerr.GetToken(); tk != nil && tk.Position != nil {
			p.Line = tk.Position.Line
			// A type error names Go's struct field; the reader wrote a key.
			if key := keyOf(tk); key != "" && !strings.Contains(p.Msg, `"`+key+`"`) {
				p.Msg = fmt.Sprintf("key %q: %s", key, p.Msg)
			}
		}
	}
	return &Error{Problems: []Problem{p}}
}

// keyOf returns the mapping key a value token belongs to.
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

// Locate fills in each problem's file and line from its YAML path (a
// missing key: the line of the mapping it belongs in), and sorts them by
// line so they read top to bottom.
func Locate(file string, data []byte, problems []Problem) []Problem {
	doc, err := Parse(data)
	for i := range problems {
		problems[i].File = file
		for path := problems[i].Path; err == nil && path != "" && problems[i].Line == 0; path = parentPath(path) {
			problems[i].Line = Line(doc, path)
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	return problems
}

// parentPath drops the last key or index of a YAML path.
func parentPath(path string) string {
	return path[:max(strings.LastIndexAny(path, ".["), 0)]
}
