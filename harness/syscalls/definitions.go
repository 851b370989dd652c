package syscalls

import (
	"strings"
	"sync"
)

// Param is one parameter of a kernel function, as the kernel source
// declares it.
type Param struct {
	Type string `json:"type"` // "const char __user *"
	Name string `json:"name"`
}

// Definition is what the kernel source (Source) says of the parameters
// of one entry point of a syscall table.
type Definition struct {
	Entry string
	// Params are the parameters in order: register i carries Params[i].
	// Nil when the source gives none to name; Missing says why (the
	// kernel runs sys_ni_syscall, the entry is written in assembly).
	Params  []Param
	Missing string
	// Where is the definition read, "net/socket.c:2199", after the
	// assembly stubs that lead to it ("arch/arm/kernel/entry-common.S:408
	// assembly stub → sys_mmap_pgoff, mm/mmap.c:559").
	Where string
}

// Names returns the parameters' names in order.
func (d Definition) Names() []string {
	if d.Params == nil {
		return nil
	}
	names := make([]string, len(d.Params))
	for i, p := range d.Params {
		names[i] = p.Name
	}
	return names
}

// DefinitionOf returns the definition of entry, an entry point of abi's
// table (Syscall.Entry or CompatEntry), as the kernel that runs abi's
// calls builds it; compat asks for the 64-bit kernel that runs abi as
// its compat ABI (i386 tasks on x86_64), whose build can differ (32-bit
// kernels have no mseal). ok is false when abi's table does not name
// entry.
func DefinitionOf(abi, entry string, compat bool) (Definition, bool) {
	t := definitionTables(abi)
	if compat {
		if d, ok := t.compat[entry]; ok {
			return d, true
		}
	}
	d, ok := t.native[entry]
	return d, ok
}

type definitionTable struct{ native, compat map[string]Definition }

var (
	definitionsMu sync.Mutex
	definitions   = map[string]definitionTable{}
)

// definitionTables parses an ABI's parameter tables on first use. The
// generator wrote them and a test parses every one, so a malformed line
// is a bug, not an input error.
func definitionTables(abi string) definitionTable {
	definitionsMu.Lock()
	defer definitionsMu.Unlock()
	if t, ok := definitions[abi]; ok {
		return t
	}
	native, compat := paramTables(abi)
	t := definitionTable{native: parseDefinitions(abi, native), compat: parseDefinitions(abi, compat)}
	definitions[abi] = t
	return t
}

// parseDefinitions reads lines of ENTRY, WHERE, then TYPE NAME per
// parameter, tab-separated; or ENTRY, -, WHY.
func parseDefinitions(abi, text string) map[string]Definition {
	m := map[string]Definition{}
	for line := range strings.Lines(text) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) == 1 && f[0] == "" {
			continue
		}
		if len(f) < 2 {
			panic("syscalls: bad line in the " + abi + " parameters: " + line)
		}
		d := Definition{Entry: f[0], Where: f[1]}
		if d.Where == "-" {
			if len(f) != 3 {
				panic("syscalls: bad line in the " + abi + " parameters: " + line)
			}
			d.Where, d.Missing = "", f[2]
			m[d.Entry] = d
			continue
		}
		d.Params = make([]Param, 0, len(f)-2)
		for _, p := range f[2:] {
			i := strings.LastIndexByte(p, ' ')
			if i <= 0 {
				panic("syscalls: bad parameter in the " + abi + " parameters: " + line)
			}
			d.Params = append(d.Params, Param{Type: p[:i], Name: p[i+1:]})
		}
		m[d.Entry] = d
	}
	return m
}
