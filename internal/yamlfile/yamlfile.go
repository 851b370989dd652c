// Package yamlfile reads ksystest's YAML files (matrix, catalogues, the
// kernel lock, the BTF recipe) as the untrusted input they are: a file
// that names another that is endless (/dev/zero) or huge, or that is built
// to make the YAML library work without end or crash, is an error said at
// once. It decodes strictly (unknown keys and wrong types are errors) and
// leaves locating problems in the file to its callers. It imports nothing
// from the project.
package yamlfile

import (
	"fmt"
	"io"
	"io/fs"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Decode decodes data into v strictly. Aliases may add at most
// MaxAliasNodes nodes and none may be inside its own anchor; a panic of
// the YAML library is an error, not a crash. An error of the library
// itself comes back as it is (a yaml.Error locates it).
func Decode(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML the decoder cannot read (it failed: %v)", r)
		}
	}()
	if d := depth(data); d > MaxDepth {
		return fmt.Errorf("collections nest more than %d deep", MaxDepth)
	}
	switch n, err := aliasNodes(data, MaxAliasNodes); {
	case err != nil:
		return err
	case n > MaxAliasNodes:
		return fmt.Errorf("aliases expand to more than %d nodes", MaxAliasNodes)
	}
	return yaml.UnmarshalWithOptions(data, v, yaml.Strict())
}

// depth is how deeply data's collections nest, block and flow, from its
// tokens (the lexer does not recurse): a block level is a column that a
// line, or a "- " entry, starts further in than the levels around it.
func depth(data []byte) int {
	var columns []int
	deepest, flow, line := 0, 0, 0
	for _, tk := range lexer.Tokenize(string(data)) {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			flow = max(flow-1, 0)
		}
		if p := tk.Position; p != nil && tk.Type != token.CommentType && (p.Line != line || tk.Type == token.SequenceEntryType) {
			line = p.Line
			for len(columns) > 0 && columns[len(columns)-1] >= p.Column {
				columns = columns[:len(columns)-1]
			}
			columns = append(columns, p.Column)
		}
		deepest = max(deepest, len(columns)+flow)
	}
	return deepest
}

// Line is the line of a YAML path ("targets[1].arch") in doc: 0 when
// the file does not have it (a missing key) or the YAML library cannot
// follow it.
func Line(doc *ast.File, path string) (line int) {
	defer func() {
		if recover() != nil {
			line = 0
		}
	}()
	p, err := yaml.PathString("$." + path)
	if err != nil {
		return 0
	}
	node, err := p.FilterFile(doc)
	if err != nil || node == nil || node.GetToken() == nil || node.GetToken().Position == nil {
		return 0
	}
	return node.GetToken().Position.Line
}

// Parse parses data into its syntax tree, a panic of the YAML library
// being an error.
func Parse(data []byte) (doc *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parse: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

const (
	// MaxSize bounds every file read: ksystest's own catalogue is 30 KiB.
	MaxSize = 1 << 20
	// MaxAliasNodes bounds the YAML nodes that aliases add when they are
	// expanded: enough to reuse a target's settings in every target, far
	// too few for an alias bomb (nine levels of ten aliases: 10⁹ nodes).
	MaxAliasNodes = 10000
	// MaxDepth bounds how deeply collections nest: ksystest's files nest
	// at most eight deep; the YAML library recurses once a level, slower
	// with each (20000 levels take a second, 400000 overflow the stack).
	MaxDepth = 100
)

// Read reads a config file: a regular file of at most MaxSize.
func Read(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file but %s", kindOf(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("larger than %d KiB", MaxSize>>10)
	}
	return data, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + m.Type().String()
}

// aliasNodes counts the nodes that expanding every alias of a YAML
// document adds, stopping once it passes limit. An alias inside the
// anchor it names would expand without end (the YAML library recurses
// until the stack overflows, which no recover catches): it is an error.
func aliasNodes(data []byte, limit int) (int, error) {
	file, err := Parse(data)
	if err != nil {
		return 0, nil // the decoder says what is wrong, with its line
	}
	c := &aliasCounter{anchors: map[string]int{}, open: map[string]bool{}, limit: limit}
	for _, doc := range file.Docs {
		ast.Walk(c, doc)
	}
	return c.added, c.err
}

// aliasCounter walks a document in order, sizing each anchor as it is
// defined (aliases inside it included) and adding an anchor's size for
// each alias to it.
type aliasCounter struct {
	anchors map[string]int
	// open are the anchors being defined.
	open  map[string]bool
	added int
	limit int
	err   error
	// size counts the nodes of the anchor being sized, when one is.
	size *int
}

func (c *aliasCounter) Visit(n ast.Node) ast.Visitor {
	if n == nil || c.added > c.limit || c.err != nil {
		return nil
	}
	switch n := n.(type) {
	case *ast.AliasNode:
		size := 1
		if n.Value != nil {
			name := n.Value.String()
			if c.open[name] {
				c.err = fmt.Errorf("line %d: alias *%s is inside its own anchor", n.GetToken().Position.Line, name)
				return nil
			}
			size = c.anchors[name]
		}
		c.added = min(c.added+size, c.limit+1)
		c.count(size)
		return nil
	case *ast.AnchorNode:
		name := ""
		if n.Name != nil {
			name = n.Name.String()
		}
		size := 0
		if n.Value != nil {
			wasOpen := c.open[name]
			c.open[name] = true
			inner := &aliasCounter{anchors: c.anchors, open: c.open, added: c.added, limit: c.limit, size: &size}
			ast.Walk(inner, n.Value)
			c.open[name] = wasOpen
			c.added, c.err = inner.added, inner.err
		}
		c.anchors[name] = size
		c.count(size)
		return nil
	}
	c.count(1)
	return c
}

func (c *aliasCounter) count(n int) {
	if c.size != nil {
		*c.size = min(*c.size+n, c.limit+1)
	}
}
