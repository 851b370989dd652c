package execinit

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// moduleInitCompressedFile asks finit_module to decompress the module
// itself (CONFIG_MODULE_DECOMPRESS, Linux 5.17): Debian's 6.12 modules
// ship as .ko.xz.
const moduleInitCompressedFile = 4

// LoadModules loads the modules names, each after those it depends on,
// from the module tree of the running kernel (/lib/modules/RELEASE, its
// modules.dep and modules.alias), as modprobe would.
func LoadModules(names []string) error {
	if len(names) == 0 {
		return nil
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return err
	}
	dir := "/lib/modules/" + unix.ByteSliceToString(uts.Release[:])
	deps, err := readModulesDep(dir + "/modules.dep")
	if err != nil {
		return err
	}
	aliases, _ := readModulesAlias(dir + "/modules.alias")
	for _, name := range names {
		key := moduleKey(name)
		m, ok := deps[key]
		if !ok {
			if real, alias := aliases[name]; alias {
				m, ok = deps[real]
			}
		}
		if !ok {
			return fmt.Errorf("module %s: not in %s/modules.dep", name, dir)
		}
		// modules.dep lists what is loaded last first.
		for i := len(m.deps) - 1; i >= 0; i-- {
			if err := loadModuleFile(dir + "/" + m.deps[i]); err != nil {
				return fmt.Errorf("module %s: %w", name, err)
			}
		}
		if err := loadModuleFile(dir + "/" + m.path); err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
	}
	return nil
}

type moduleDep struct {
	path string
	deps []string
}

// moduleKey is the kernel's name of a module file or name: no directory,
// no .ko suffix, '-' as '_'.
func moduleKey(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

func readModulesDep(file string) (map[string]moduleDep, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]moduleDep{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || mod == "" {
			continue
		}
		out[moduleKey(mod)] = moduleDep{path: mod, deps: strings.Fields(rest)}
	}
	return out, sc.Err()
}

// readModulesAlias reads exact aliases ("alias fs-9p 9p"); patterns are
// modprobe's business.
func readModulesAlias(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 3 && fields[0] == "alias" && !strings.ContainsAny(fields[1], "*?[") {
			out[fields[1]] = moduleKey(fields[2])
		}
	}
	return out, sc.Err()
}

func loadModuleFile(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if !strings.HasSuffix(file, ".ko") {
		flags = moduleInitCompressedFile
	}
	err = unix.FinitModule(int(f.Fd()), "", flags)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", path.Base(file), err)
	}
	return nil
}
