// Command genprobes compiles ksystest's own probes (bpf/c/probes.c) for
// every BPF target of the arch table into bpf/obj/probes_TARGET.o, the
// objects ksystest ships to its guests. `make generate` runs it after
// fetching libbpf's headers into bpf/.libbpf; CI runs it again and fails
// on any difference (make generate-check).
//
//	go run ./internal/cmd/genprobes
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/arch"
	"github.com/ksystest/ksystest/harness/bpfbuild"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genprobes:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	var c bpfbuild.Compiler
	ctx := context.Background()
	version, err := c.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "genprobes: %s\n", version)
	for _, t := range arch.BPFTargets() {
		r, err := c.Compile(ctx, bpfbuild.Unit{
			Source:   filepath.Join(root, "bpf/c/probes.c"),
			Includes: []string{filepath.Join(root, "bpf/c"), filepath.Join(root, "bpf/include"), filepath.Join(root, "bpf/.libbpf/usr/include")},
			Target:   t,
			Root:     root,
			Flags:    []string{"-Werror"},
		})
		if err != nil {
			return err
		}
		if r.Warnings != "" {
			fmt.Fprintln(os.Stderr, r.Warnings)
		}
		data, err := os.ReadFile(r.Object)
		os.Remove(r.Object)
		if err != nil {
			return err
		}
		out := filepath.Join(root, "bpf/obj", "probes_"+t.Suffix()+".o")
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "genprobes: %s (%d bytes)\n", out, len(data))
	}
	return nil
}
