// Command gensyscalls writes harness/syscalls' tables from the kernel's
// own syscall tables, as Debian's kernel source package carries them, and
// the parameters (names and C types) of every entry point they name, from
// the definitions in the same source. The package is fetched and
// verified like ksystest's kernels; the files the tables need are taken
// out of its tarball once and cached.
//
//	go generate ./harness/syscalls    (or: make syscalls)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/ksystest/ksystest/harness/archive"
)

func main() {
	var (
		pkg    = flag.String("package", "linux-source-6.12", "Debian kernel source package")
		suites = flag.String("suites", "bookworm-backports,trixie", "suites to look for the package in, in order")
		out    = flag.String("out", "", "directory of the generated Go files (package syscalls)")
		mirror = flag.String("debian-mirror", "", "Debian mirror (default: $"+archive.MirrorEnv+", else apt sources)")
	)
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *pkg, strings.Split(*suites, ","), *out, *mirror); err != nil {
		fmt.Fprintln(os.Stderr, "gensyscalls:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, pkg string, suites []string, out, mirror string) error {
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	f, _, err := archive.NewFetcher(archive.FetcherConfig{Mirror: mirror, Logf: logf})
	if err != nil {
		return err
	}
	p, suite, err := findSource(ctx, f, pkg, suites)
	if err != nil {
		return err
	}
	tree, err := kernelTree(ctx, f, p, suite)
	if err != nil {
		return err
	}
	fsys := os.DirFS(tree)
	idx, err := indexSource(fsys, builds())
	if err != nil {
		return fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
	}
	var tables []table
	var params []paramTable
	for _, a := range abis() {
		t, err := build(fsys, a)
		if err != nil {
			return fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
		}
		pt, err := buildParams(fsys, idx, a, t)
		if err != nil {
			return fmt.Errorf("%s %s: %w", p.Name, p.Version, err)
		}
		logf("%-9s %3d syscalls, %3d entry points (%d without parameters), %3d read otherwise by the compat kernel (%d without)", t.abi, len(t.syscalls),
			len(pt.native), len(missing(pt.native)), len(pt.compat), len(missing(pt.compat)))
		tables = append(tables, t)
		params = append(params, pt)
	}
	origin := fmt.Sprintf("%s %s (%s), sha256 %s", p.Name, p.Version, suite, p.SHA256)
	version, _, _ := strings.Cut(p.Version, "-")
	return writeTables(out, origin, version, tables, params)
}
