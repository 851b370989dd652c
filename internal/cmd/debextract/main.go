// Command debextract fetches one package from Debian's archive, verified
// like ksystest's kernels, and extracts a subtree of it. The Makefile uses
// it for libbpf's headers (BPF_KSYSCALL takes six arguments only from
// libbpf 1.2, newer than some hosts' libbpf-dev).
//
//	go run ./internal/cmd/debextract -suite trixie -package libbpf-dev -path usr/include/bpf -out bpf/.libbpf
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ksystest/ksystest/harness/archive"
)

func main() {
	var (
		suite   = flag.String("suite", "trixie", "Debian suite")
		debArch = flag.String("arch", "amd64", "Debian architecture")
		pkg     = flag.String("package", "", "package name")
		sub     = flag.String("path", "", "subtree to extract, relative to /")
		out     = flag.String("out", "", "destination directory")
		mirror  = flag.String("debian-mirror", "", "Debian mirror (default: $"+archive.MirrorEnv+", else apt sources)")
	)
	flag.Parse()
	if *pkg == "" || *sub == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*suite, *debArch, *pkg, *sub, *out, *mirror); err != nil {
		fmt.Fprintln(os.Stderr, "debextract:", err)
		os.Exit(1)
	}
}

func run(suite, debArch, pkg, sub, out, mirror string) error {
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	f, from, err := archive.NewFetcher(archive.FetcherConfig{Mirror: mirror, Logf: logf})
	if err != nil {
		return err
	}
	logf("Debian mirror %s", from)
	tmp, done, err := f.Cache.TempDir()
	if err != nil {
		return err
	}
	defer done()
	deb := filepath.Join(tmp, pkg+".deb")
	p, err := f.FetchPackage(context.Background(), suite, debArch, pkg, deb)
	if err != nil {
		return err
	}
	r, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := archive.ExtractTree(r, sub, out)
	if err != nil {
		return fmt.Errorf("%s: %w", pkg, err)
	}
	logf("%s %s: %d files of /%s in %s", p.Name, p.Version, n, sub, out)
	return os.WriteFile(filepath.Join(out, "VERSION"), []byte(p.Name+" "+p.Version+" sha256:"+p.SHA256+"\n"), 0o644)
}
