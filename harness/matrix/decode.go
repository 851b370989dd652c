package matrix

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/ksystest/ksystest/internal/yamlfile"
)

// Problem is one thing wrong with a config file, located by YAML path and,
// where the file has that path, by line.
type Problem = yamlfile.Problem

// ConfigError lists every problem found in a config file.
type ConfigError = yamlfile.Error

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
	if err := yamlfile.DecodeStrict(src.display, data, v); err != nil {
		return err
	}
	v.ApplyDefaults()
	if problems := v.Validate(); len(problems) > 0 {
		return &ConfigError{Problems: yamlfile.Locate(src.display, data, problems)}
	}
	return nil
}
