package kernelbtf

import (
	"bytes"
	"slices"
)

// Prototype returns the parameter names of the function called name, in
// order, as its FUNC_PROTO has them; a parameter without a name (or the
// ... of a variadic function) gives "". ok is false when there is no FUNC
// of that name. When several share it (static functions of different
// files), the one with the lowest type id counts.
func (s *Spec) Prototype(name string) (params []string, ok bool) {
	for _, id := range s.funcs {
		off := s.offsets[id-1]
		if !s.nameIs(s.w.at(off), name) {
			continue
		}
		proto := s.offsets[s.w.at(off+8)-1]
		vlen := s.w.at(proto+4) & 0xffff
		params = make([]string, 0, vlen)
		for p := proto + recordLen; p < proto+recordLen+vlen*8; p += 8 {
			params = append(params, s.name(s.w.at(p)))
		}
		return params, true
	}
	return nil, false
}

// Funcs returns the names of the functions that start with prefix,
// sorted, each once.
func (s *Spec) Funcs(prefix string) []string {
	var names []string
	want := []byte(prefix)
	for _, id := range s.funcs {
		off := s.w.at(s.offsets[id-1])
		if bytes.HasPrefix(s.strs[off:], want) {
			names = append(names, s.name(off))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// nameIs compares without copying the string out: Prototype runs it on
// every FUNC of a kernel.
func (s *Spec) nameIs(off uint32, name string) bool {
	b := s.strs[off:]
	return len(b) > len(name) && b[len(name)] == 0 && string(b[:len(name)]) == name
}
