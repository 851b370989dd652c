package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	ksystest "github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/matrix"
	"github.com/ksystest/ksystest/harness/scaffold"
)

func cmdInit(_ context.Context, args []string, s streams) error {
	fs := newFlagSet("init [flags] [DIR]", `
Write a starter config (ksystest.yaml) for the syscall probes under DIR
(default: the current directory): a collection for each *.bpf.c source
and each set of bpf2go objects (NAME_ARCH_bpfel.o), their const volatile
PID filters set to ${pid}, and a case for each syscall they probe, with
captures from where the programs store each argument: globals (through
casts and inline helpers), and the fields of the records they submit to
a ring buffer or perf event array of their own (strings and socket
addresses they copy by what they point to). What it cannot tell is
written as a comment to finish by hand. Nothing is compiled or booted;
then run: ksystest run --matrix ksystest.yaml`, s)
	var (
		out   = fs.String("out", "ksystest.yaml", "config file to write, relative to DIR")
		force = fs.Bool("force", false, "overwrite an existing config")
	)
	if help, err := parseArgs(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageErr("init takes one directory, not %d", fs.NArg())
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return usageErr("%s: not a directory", dir)
	}
	file := *out
	if !filepath.IsAbs(file) {
		file = filepath.Join(dir, file)
	}
	if _, err := os.Stat(file); err == nil && !*force {
		return usageErr("%s exists: give --force to overwrite it", file)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return usageErr("%v", err)
	}

	p, err := scaffold.Scan(dir)
	if err != nil {
		return usageErr("%v", err)
	}
	m, err := matrix.LoadBuiltin(ksystest.Data)
	if err != nil {
		return err
	}
	builtin, err := m.Catalogue()
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, scaffold.Render(p, builtin), 0o644); err != nil {
		return err
	}
	written, commented := scaffold.Cases(p, builtin)
	fmt.Fprintf(s.err, "wrote %s: %d collections, %d cases", file, len(p.Collections), written)
	if commented > 0 {
		fmt.Fprintf(s.err, ", %d more to finish by hand (commented out)", commented)
	}
	fmt.Fprintln(s.err)
	for _, f := range scaffold.Findings(p) {
		fmt.Fprintf(s.err, "  %s\n", f)
	}
	// The config must load as written: check it the way run will.
	if _, err := matrix.Load(file, ksystest.Data); err != nil {
		return fmt.Errorf("the config init wrote does not load (a bug in ksystest init): %w", err)
	}
	fmt.Fprintf(s.err, "next: read it, then ksystest run --matrix %s\n", file)
	return nil
}
