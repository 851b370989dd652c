package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
	"github.com/ksystest/ksystest/harness/proto"
)

// maxFieldContent bounds the bytes of one content field (a string, a
// socket address) the agent reports per record.
const maxFieldContent = 4096

// recordType finds the struct a capture set's records are, by name, in
// the object's BTF.
func recordType(types *btf.Spec, name string) (*btf.Struct, error) {
	if types == nil {
		return nil, errors.New("the object has no BTF")
	}
	var s *btf.Struct
	if err := types.TypeByName(name, &s); err != nil {
		return nil, fmt.Errorf("no struct %s in the object's BTF (%v): clang keeps a struct there only when a global, a map or a function's signature uses it; bpf2go's users add `const struct %s *unused __attribute__((unused));`", name, err, name)
	}
	return s, nil
}

// fieldOf resolves a field path of a record (path, addr.sin_port,
// args[2]) to where it is and how to read it. Members of anonymous
// structs and unions are found by their own names; bitfields are not
// read.
func fieldOf(s *btf.Struct, path string) (proto.Field, error) {
	if path == "" {
		return proto.Field{}, errors.New("no field named")
	}
	var t btf.Type = s
	off := 0
	for _, seg := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name == "" {
			return proto.Field{}, fmt.Errorf("%q: a field name before [", path)
		}
		if _, ok := membersOf(t); !ok {
			return proto.Field{}, fmt.Errorf("%q: %s is no struct or union", path, typeName(t))
		}
		m, moff, err := member(t, name)
		if err != nil {
			return proto.Field{}, fmt.Errorf("%q: %w", path, err)
		}
		off += moff
		t = m.Type
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			if !ok {
				return proto.Field{}, fmt.Errorf("%q: unclosed [", path)
			}
			n, err := strconv.Atoi(idx)
			arr, isArr := btf.UnderlyingType(t).(*btf.Array)
			switch {
			case err != nil || n < 0:
				return proto.Field{}, fmt.Errorf("%q: index %q is not a number", path, idx)
			case !isArr:
				return proto.Field{}, fmt.Errorf("%q: %s is not an array", path, typeName(t))
			case uint32(n) >= arr.Nelems:
				return proto.Field{}, fmt.Errorf("%q: index %d past the array's %d", path, n, arr.Nelems)
			}
			es, err := btf.Sizeof(arr.Type)
			if err != nil {
				return proto.Field{}, fmt.Errorf("%q: %w", path, err)
			}
			off += n * es
			t = arr.Type
			rest = strings.TrimPrefix(after, "[")
			if after != "" && !strings.HasPrefix(after, "[") {
				return proto.Field{}, fmt.Errorf("%q: want [N] after ]", path)
			}
		}
	}
	size, err := btf.Sizeof(t)
	if err != nil {
		return proto.Field{}, fmt.Errorf("%q: %w", path, err)
	}
	f := proto.Field{Type: typeName(t), Offset: off, Size: size}
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Array, *btf.Struct, *btf.Union:
		f.Content = true
	case *btf.Int:
		f.Signed = u.Encoding == btf.Signed
	case *btf.Enum:
		f.Signed = u.Signed
	case *btf.Pointer:
	default:
		return proto.Field{}, fmt.Errorf("%q: %s is neither a number nor content", path, typeName(t))
	}
	if !f.Content && size != 1 && size != 2 && size != 4 && size != 8 {
		return proto.Field{}, fmt.Errorf("%q: a %d-byte number: ksystest reads 1, 2, 4 or 8 bytes", path, size)
	}
	return f, nil
}

// membersOf is a struct's or a union's members.
func membersOf(t btf.Type) ([]btf.Member, bool) {
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		return c.Members, true
	case *btf.Union:
		return c.Members, true
	}
	return nil, false
}

// member finds the member called name in a struct or union, inside its
// anonymous members too, and its offset in bytes.
func member(c btf.Type, name string) (btf.Member, int, error) {
	members, _ := membersOf(c)
	for _, m := range members {
		if m.BitfieldSize > 0 || m.Offset%8 != 0 {
			if m.Name == name {
				return btf.Member{}, 0, fmt.Errorf("%s is a bitfield: ksystest reads whole bytes", name)
			}
			continue
		}
		if m.Name == name {
			return m, int(m.Offset / 8), nil
		}
		if _, ok := membersOf(m.Type); ok && m.Name == "" {
			if found, off, err := member(m.Type, name); err == nil {
				return found, int(m.Offset/8) + off, nil
			}
		}
	}
	return btf.Member{}, 0, fmt.Errorf("no member %s in %s", name, typeName(btf.UnderlyingType(c)))
}

// typeName is a type as C would write it, near enough for a report.
func typeName(t btf.Type) string {
	switch v := t.(type) {
	case *btf.Array:
		return fmt.Sprintf("%s[%d]", typeName(v.Type), v.Nelems)
	case *btf.Pointer:
		return typeName(v.Target) + " *"
	case *btf.Struct:
		return "struct " + v.Name
	case *btf.Union:
		return "union " + v.Name
	case *btf.Enum:
		return "enum " + v.Name
	case *btf.Const:
		return "const " + typeName(v.Type)
	case *btf.Volatile:
		return "volatile " + typeName(v.Type)
	case *btf.Void:
		return "void"
	}
	if t.TypeName() != "" {
		return t.TypeName()
	}
	return fmt.Sprintf("%T", t)
}

// layout resolves a capture set's fields in its record type: one Field per
// argument (Error set where it cannot be read), and the thread field.
func layout(s *btf.Struct, c proto.Capture) (fields []proto.Field, thread *proto.Field, err error) {
	for _, a := range c.Args {
		if a.Field == "" {
			fields = append(fields, proto.Field{Error: "not read"})
			continue
		}
		f, ferr := fieldOf(s, a.Field)
		if ferr != nil {
			f.Error = ferr.Error()
		}
		fields = append(fields, f)
	}
	if name := c.TID + c.PID; name != "" {
		f, err := fieldOf(s, name)
		if err != nil {
			return fields, nil, fmt.Errorf("thread field: %w", err)
		}
		if f.Content {
			return fields, nil, fmt.Errorf("thread field %s is %s, not a number", name, f.Type)
		}
		thread = &f
	}
	return fields, thread, nil
}

// selection is a set's Select resolved: the fields a record of the set
// holds these values in.
type selection []struct {
	f    proto.Field
	want uint64
}

func selectionOf(s *btf.Struct, sel map[string]uint64) (selection, error) {
	var out selection
	for name, want := range sel {
		f, err := fieldOf(s, name)
		if err != nil {
			return nil, fmt.Errorf("select: %w", err)
		}
		if f.Content {
			return nil, fmt.Errorf("select: %s is %s, not a number", name, f.Type)
		}
		out = append(out, struct {
			f    proto.Field
			want uint64
		}{f, want})
	}
	return out, nil
}

// selects reports whether raw is a record of the set: every selected
// field holds its value (compared at the field's width).
func (sel selection) selects(raw []byte) bool {
	for _, s := range sel {
		if s.f.Offset+s.f.Size > len(raw) {
			return false
		}
		v := number(raw[s.f.Offset:s.f.Offset+s.f.Size], false)
		if v == nil || *v != s.want&(^uint64(0)>>(64-8*s.f.Size)) {
			return false
		}
	}
	return true
}

// decodeRecord reads a record's fields in the guest's byte order.
func decodeRecord(raw []byte, fields []proto.Field, thread *proto.Field) proto.Record {
	r := proto.Record{Size: len(raw), Values: make([]*uint64, len(fields))}
	for i, f := range fields {
		if f.Error != "" || f.Offset+f.Size > len(raw) || f.Size <= 0 {
			continue
		}
		b := raw[f.Offset : f.Offset+f.Size]
		if f.Content {
			if r.Bytes == nil {
				r.Bytes = make([][]byte, len(fields))
			}
			r.Bytes[i] = append([]byte{}, b[:min(len(b), maxFieldContent)]...)
			continue
		}
		r.Values[i] = number(b, f.Signed)
	}
	if thread != nil && thread.Offset+thread.Size <= len(raw) {
		r.Thread = number(raw[thread.Offset:thread.Offset+thread.Size], false)
	}
	return r
}

// number reads 1, 2, 4 or 8 bytes as a register would hold them.
func number(b []byte, signExtend bool) *uint64 {
	bo := binary.NativeEndian
	var v uint64
	switch len(b) {
	case 1:
		v = uint64(b[0])
		if signExtend {
			v = uint64(int64(int8(b[0])))
		}
	case 2:
		v = uint64(bo.Uint16(b))
		if signExtend {
			v = uint64(int64(int16(bo.Uint16(b))))
		}
	case 4:
		v = uint64(bo.Uint32(b))
		if signExtend {
			v = uint64(int64(int32(bo.Uint32(b))))
		}
	case 8:
		v = bo.Uint64(b)
	default:
		return nil
	}
	return &v
}

// underlyingArray is t as an array, past typedefs and qualifiers.
func underlyingArray(t btf.Type) (*btf.Array, bool) {
	a, ok := btf.UnderlyingType(t).(*btf.Array)
	return a, ok
}
