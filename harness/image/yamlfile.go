package image

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"
	"github.com/ksystest/ksystest/internal/yamlfile"
)

// The files under images/ (the kernel lock, the BTF recipe) are read as
// strictly as matrix.yaml: what is wrong is said with file, line and key.

// problem is one thing wrong with a decoded file, at a YAML path
// ("kernels[3].sha256").
type problem struct{ path, msg string }

func problemf(path, format string, args ...any) problem {
	return problem{path: path, msg: fmt.Sprintf(format, args...)}
}

// decodeYAML decodes data into v, refusing unknown keys and wrong types,
// then calls check on what it decoded; every problem found is reported at
// once, each at the line of its path.
func decodeYAML(file string, data []byte, v any, check func() []problem) error {
	if err := yamlfile.Decode(data, v); err != nil {
		var yerr yaml.Error
		if !errors.As(err, &yerr) || yerr.GetToken() == nil || yerr.GetToken().Position == nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		tk := yerr.GetToken()
		msg := yerr.GetMessage()
		// A type error names Go's struct field (and quotes nothing); the
		// reader wrote a key.
		if p := tk.Prev; !strings.Contains(msg, `"`) && p != nil && p.Type == token.MappingValueType && p.Prev != nil {
			msg = fmt.Sprintf("key %q: %s", p.Prev.Value, msg)
		}
		return fmt.Errorf("%s:%d: %s", file, tk.Position.Line, msg)
	}
	problems := check()
	if len(problems) == 0 {
		return nil
	}
	doc, perr := yamlfile.Parse(data)
	type located struct {
		line int
		err  error
	}
	all := make([]located, len(problems))
	for i, p := range problems {
		// A missing key has no line: its mapping's is the next best.
		for path := p.path; perr == nil && path != "" && all[i].line == 0; path = parentPath(path) {
			all[i].line = yamlfile.Line(doc, path)
		}
		loc := file
		if all[i].line > 0 {
			loc = fmt.Sprintf("%s:%d", file, all[i].line)
		}
		all[i].err = fmt.Errorf("%s: %s: %s", loc, p.path, p.msg)
	}
	// Top to bottom, as the file reads.
	sort.SliceStable(all, func(i, j int) bool { return all[i].line < all[j].line })
	errs := make([]error, len(all))
	for i, l := range all {
		errs[i] = l.err
	}
	return errors.Join(errs...)
}

// parentPath drops the last key or index of a YAML path.
func parentPath(path string) string {
	return path[:max(strings.LastIndexAny(path, ".["), 0)]
}
