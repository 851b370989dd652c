package kernel

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/ksystest/ksystest/harness/archive"
	"github.com/ksystest/ksystest/internal/yamlfile"
)

// BTFRecipe says how to make BTF for a kernel built without it: which
// package holds the kernel's debug info, which file in it pahole reads,
// and pahole's arguments. ksystest's own is images/btf.yaml.
type BTFRecipe struct {
	APIVersion string `yaml:"apiVersion"`
	// DebugPackage names the debug package; {package} is the kernel's.
	DebugPackage string `yaml:"debugPackage"`
	// Vmlinux is the path of the vmlinux in it; {release} is the
	// kernel's release (uname -r).
	Vmlinux string `yaml:"vmlinux"`
	// Pahole is pahole's arguments; {vmlinux} is that file, {out} the
	// BTF file to write.
	Pahole []string `yaml:"pahole"`
}

// placeholder matches a {name} in a recipe.
var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// ReadBTFRecipe reads the BTF recipe name in fsys (ksystest's is
// images/btf.yaml in ksystest.Data) as strictly as the matrix: every
// problem with file, line and key.
func ReadBTFRecipe(fsys fs.FS, name string) (*BTFRecipe, error) {
	data, err := yamlfile.Read(fsys, name)
	if err != nil {
		return nil, err
	}
	return parseBTFRecipe(name, data)
}

func parseBTFRecipe(file string, data []byte) (*BTFRecipe, error) {
	var r BTFRecipe
	if err := yamlfile.Load(file, data, &r, r.validate); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *BTFRecipe) validate() []yamlfile.Problem {
	var ps []yamlfile.Problem
	if r.APIVersion != yamlfile.APIVersion {
		ps = append(ps, yamlfile.Problemf("apiVersion", "is %q, want %q", r.APIVersion, yamlfile.APIVersion))
	}
	// uses reports what is wrong with the placeholders of s: each must be
	// one of allowed, and each of required must be there.
	uses := func(path, s string, allowed, required []string) {
		found := placeholder.FindAllString(s, -1)
		for _, p := range found {
			if !slices.Contains(allowed, p) {
				ps = append(ps, yamlfile.Problemf(path, "%s: want only %s", p, strings.Join(allowed, ", ")))
			}
		}
		for _, p := range required {
			if !slices.Contains(found, p) {
				ps = append(ps, yamlfile.Problemf(path, "no %s", p))
			}
		}
	}
	uses("debugPackage", r.DebugPackage, []string{"{package}"}, []string{"{package}"})
	if err := archive.CheckPackage(r.debugPackageOf("linux-image-6.1.0-50-s390x")); err != nil && r.DebugPackage != "" {
		ps = append(ps, yamlfile.Problemf("debugPackage", "%v", err))
	}
	uses("vmlinux", r.Vmlinux, []string{"{release}"}, []string{"{release}"})
	if err := archive.CheckRelPath("vmlinux", r.vmlinuxOf("6.1.0-50-s390x")); err != nil && r.Vmlinux != "" {
		ps = append(ps, yamlfile.Problemf("vmlinux", "%v: a path inside the package, without a leading /", err))
	}
	uses("pahole", strings.Join(r.Pahole, " "), []string{"{out}", "{vmlinux}"}, []string{"{out}", "{vmlinux}"})
	return ps
}

// debugPackageOf is the debug package of the kernel package.
func (r *BTFRecipe) debugPackageOf(kernelPackage string) string {
	return strings.ReplaceAll(r.DebugPackage, "{package}", kernelPackage)
}

// vmlinuxOf is the path in the debug package of the vmlinux of release.
func (r *BTFRecipe) vmlinuxOf(release string) string {
	return strings.ReplaceAll(r.Vmlinux, "{release}", release)
}

// paholeArgs are pahole's arguments to encode vmlinux's BTF into out.
func (r *BTFRecipe) paholeArgs(out, vmlinux string) []string {
	rep := strings.NewReplacer("{out}", out, "{vmlinux}", vmlinux)
	args := make([]string, len(r.Pahole))
	for i, a := range r.Pahole {
		args[i] = rep.Replace(a)
	}
	return args
}

// String names the recipe in the manifest of the BTF it makes, so that
// BTF made by another recipe is made again.
func (r *BTFRecipe) String() string {
	return fmt.Sprintf("%s from %s: pahole %s", r.Vmlinux, r.DebugPackage, strings.Join(r.Pahole, " "))
}
