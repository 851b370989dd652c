package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/harness/result"
)

// ErrNoBTF ends the error of a kernel without BTF that ksystest cannot
// make BTF for: its target must name one (a matter of the configuration,
// not of the host).
var ErrNoBTF = errors.New("give the target a btf: file")

// HasOwnBTF reports whether the kernel was built with its BTF
// (CONFIG_DEBUG_INFO_BTF=y).
func (k *Kernel) HasOwnBTF() bool {
	v, _ := k.ConfigValue("DEBUG_INFO_BTF")
	return v == "y"
}

// PaholeVersion returns the installed pahole's version ("v1.24").
func PaholeVersion(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "pahole", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("pahole (package dwarves) is needed to generate BTF for kernels built without it: %w", err)
	}
	v := strings.TrimSpace(string(out))
	// It names a cache entry.
	if !paholeVersion.MatchString(v) {
		return "", fmt.Errorf("pahole --version: unexpected %q", v)
	}
	return v, nil
}

var paholeVersion = regexp.MustCompile(`^v?[0-9][0-9a-z.+~-]*$`)

// KernelBTF returns the BTF to load probes against on k: the kernel's own
// when it has one, else generated as recipe says (from its debug package,
// with pahole) and cached by the debug package's hash, pahole's version
// and the recipe, so a second run downloads nothing.
// The path is empty when the kernel has its own.
func (f Archive) KernelBTF(ctx context.Context, k *Kernel, debArch string, recipe *BTFRecipe) (*result.BTF, string, error) {
	if k.HasOwnBTF() {
		return &result.BTF{Source: result.BTFKernel}, "", nil
	}
	if recipe == nil {
		return nil, "", fmt.Errorf("BTF for %s: the kernel has none, and no BTF recipe says how to make it", k.Package)
	}
	d, err := archive.DistroNamed(k.Distro)
	if err != nil {
		return nil, "", err
	}
	if !d.DebugPackages {
		return nil, "", fmt.Errorf("BTF for %s: the kernel has none (CONFIG_DEBUG_INFO_BTF is not set), and %s's archive carries no debug packages "+
			"to make it from (%s keeps them in an archive of their own, which ksystest does not read): %w", k.Package, d.Title, d.Title, ErrNoBTF)
	}
	if f, err = f.of(Ref{Distro: k.Distro}); err != nil {
		return nil, "", err
	}
	b, path, err := f.generateBTF(ctx, k, debArch, recipe)
	if err != nil {
		return nil, "", fmt.Errorf("BTF for %s: %w", k.Package, err)
	}
	return b, path, nil
}

func (f Archive) generateBTF(ctx context.Context, k *Kernel, debArch string, recipe *BTFRecipe) (*result.BTF, string, error) {
	pahole, err := PaholeVersion(ctx)
	if err != nil {
		return nil, "", err
	}
	dbgName := recipe.debugPackageOf(k.Package)
	if err := archive.CheckPackage(dbgName); err != nil {
		return nil, "", err
	}
	pkgs, err := f.Packages(ctx, k.Suite, debArch, dbgName)
	if err != nil {
		return nil, "", err
	}
	dbg, err := archive.FindPackage(pkgs, dbgName)
	if err != nil {
		return nil, "", fmt.Errorf("the kernel has no BTF and its debug package is missing: %w", err)
	}
	// A locked kernel outlives its index entry, and Debian may publish a
	// new build under the same package name: another build's debug info
	// describes other types.
	if dbg.Version != k.Version {
		return nil, "", fmt.Errorf("the kernel has no BTF, and %s's index has %s %s, not %s: its types would not be the kernel's",
			k.Suite, dbg.Name, dbg.Version, k.Version)
	}
	b := &result.BTF{Source: result.BTFPahole, From: dbg.Name + " " + dbg.Version, Pahole: pahole}
	path := f.Cache.Path("btf", dbg.SHA256+"-pahole-"+pahole+".btf")
	b.Cached, err = f.Cache.File(ctx, "btf-"+dbg.SHA256[:16], path, dbg.Origin()+" pahole "+pahole+" recipe "+recipe.String(), func(tmp string) (string, error) {
		return f.pahole(ctx, k, dbg, recipe, tmp, b)
	})
	if err != nil {
		return nil, "", err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	b.Bytes = st.Size()
	return b, path, nil
}

// pahole downloads the debug package into tmp, takes its vmlinux and
// encodes its BTF as recipe says, recording the timings in b.
func (f Archive) pahole(ctx context.Context, k *Kernel, dbg archive.Package, recipe *BTFRecipe, tmp string, b *result.BTF) (string, error) {
	start := time.Now()
	f.Log("%s has no BTF: downloading %s %s (%d MiB) for pahole", k.Package, dbg.Name, dbg.Version, dbg.Size>>20)
	deb := filepath.Join(tmp, "dbg.deb")
	if err := f.DownloadPackage(ctx, dbg, deb); err != nil {
		return "", err
	}
	b.DownloadSec, b.DownloadMB = secsSince(start), float64(dbg.Size)/(1<<20)

	start = time.Now()
	vmlinux := filepath.Join(tmp, "vmlinux")
	r, err := os.Open(deb)
	if err != nil {
		return "", err
	}
	err = archive.ExtractFile(r, recipe.vmlinuxOf(k.Release), vmlinux)
	r.Close()
	if err != nil {
		return "", fmt.Errorf("%s: %w", dbg.Name, err)
	}
	os.Remove(deb) // hundreds of MB: gone before pahole needs memory
	b.ExtractSec = secsSince(start)

	start = time.Now()
	out := filepath.Join(tmp, "vmlinux.btf")
	cmd := exec.CommandContext(ctx, "pahole", recipe.paholeArgs(out, vmlinux)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("pahole on %s: %w: %s", dbg.Name, err, stderr.String())
	}
	b.PaholeSec = secsSince(start)
	f.Log("BTF for %s generated (download %.1fs, extract %.1fs, pahole %.1fs)", k.Package, b.DownloadSec, b.ExtractSec, b.PaholeSec)
	return out, nil
}

func secsSince(t time.Time) float64 { return time.Since(t).Round(time.Millisecond).Seconds() }
