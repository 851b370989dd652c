package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ksystest "github.com/ksystest/ksystest"
	"github.com/ksystest/ksystest/harness/matrix"
)

// A tool written as its authors write it: arguments stored into globals
// through casts ((__u64)(long)dfd), inline helpers that store for their
// caller or return what they were given, a string copied into a global;
// a store only some arches compile is left out.
func TestScanThroughCastsAndHelpers(t *testing.T) {
	p, err := Scan("testdata/sniff")
	require.NoError(t, err)
	require.Len(t, p.Collections, 1)
	c := p.Collections[0]
	assert.Equal(t, []string{"targ_tgid"}, c.Constants)
	assert.Equal(t, []string{"open_dfd", "open_flags", "open_mode", "open_path", "send_fd", "send_len", "send_flags", "send_arch_only"}, c.Globals)
	got := map[string]Read{}
	for _, pr := range c.Programs {
		for _, r := range pr.Reads {
			got[r.Global] = r
		}
	}
	for g, want := range map[string]Read{
		"open_dfd":   {Arg: 1, Line: 49}, // (__u64)(long)dfd
		"open_flags": {Arg: 3, Line: 40}, // in note_flags(flags)
		"open_mode":  {Arg: 4, Line: 30}, // keep(&open_mode, mode): *dst = v
		"open_path":  {Arg: 2, Line: 52}, // bpf_probe_read_user_str(open_path, ..., filename)
		"send_fd":    {Arg: 1, Line: 61},
		"send_len":   {Arg: 3, Line: 62}, // widen(len) returns it
		"send_flags": {Arg: 4, Line: 63},
	} {
		want.Global, want.Set = g, "ksyscall"
		assert.Equal(t, want, got[g], g)
	}
	assert.NotContains(t, got, "send_arch_only", "stored under #if defined(bpf_target_x86) only")

	out := Render(p, builtinCatalogue(t))
	assert.Contains(t, string(out), "- {global: open_dfd}    # inferred: sniff.bpf.c:49")
	assert.Contains(t, string(out), `- {value: "str:/tmp/ksystest-init/no/such/file"}`)
	loads(t, out)
}

// A source beside bpf2go's objects of its name, with no go:generate line
// naming it, is those objects' source: one collection, not a second one
// named sniff-2, and the config loads.
func TestBpf2goSourceBesideObjects(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/sniff", dir)
	for from, to := range map[string]string{"probes_x86_bpfel.o": "sniff_x86_bpfel.o", "probes_arm64_bpfel.o": "sniff_arm64_bpfel.o"} {
		data, err := os.ReadFile(filepath.Join("../../bpf/obj", from))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, to), data, 0o644))
	}
	p, err := Scan(dir)
	require.NoError(t, err)
	require.Len(t, p.Collections, 1)
	c := p.Collections[0]
	assert.Equal(t, "sniff", c.Name)
	assert.Equal(t, "sniff.bpf.c", c.Source)
	assert.Equal(t, map[string]string{"x86_64": "sniff_x86_bpfel.o", "arm64": "sniff_arm64_bpfel.o"}, c.Objects)
	out := Render(p, builtinCatalogue(t))
	assert.NotContains(t, string(out), "sniff-2")
	loads(t, out)

	// A go:generate line names it, by an ident bpf2go lowercases for the
	// objects' names.
	require.NoError(t, os.Rename(filepath.Join(dir, "sniff.bpf.c"), filepath.Join(dir, "probe.bpf.c")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gen.go"), []byte("package sniff\n\n//go:generate go tool bpf2go -target amd64,arm64 Sniff probe.bpf.c\n"), 0o644))
	p, err = Scan(dir)
	require.NoError(t, err)
	require.Len(t, p.Collections, 1)
	assert.Equal(t, "probe.bpf.c", p.Collections[0].Source)
	loads(t, Render(p, builtinCatalogue(t)))
}

// examples/snoop: the records each tool submits, the fields holding the
// call's arguments (a string and a socket address by what they point
// to), the thread or process, the kind of record where two programs share
// a ring buffer; through an inline helper that reserves the record, and
// from an exit program that reads what its entry program kept in a map.
func TestScanRecords(t *testing.T) {
	p, err := Scan("../../examples/snoop")
	require.NoError(t, err)
	records := map[string]Record{}
	exit := map[string]bool{}
	for _, c := range p.Collections {
		for _, pr := range c.Programs {
			exit[pr.Name] = pr.Exit
			for _, r := range pr.Records {
				records[pr.Name] = r
			}
		}
	}
	require.Len(t, records, 4)

	open := records["trace_openat"]
	assert.Equal(t, "events", open.Map)
	assert.Equal(t, "event", open.Struct)
	assert.Equal(t, []FieldRead{
		{Field: "dfd", Arg: 1, Line: 44}, {Field: "flags", Arg: 3, Line: 45}, {Field: "mode", Arg: 4, Line: 46},
		{Field: "path", Arg: 2, Content: true, Line: 47},
	}, open.Fields)
	assert.Equal(t, "pid", open.Thread)
	assert.Equal(t, "pid", open.ThreadKind)
	assert.Equal(t, []string{"pid", "dfd", "flags", "mode", "path"}, open.StructFields, "struct event, from snoop.h")

	perf := records["openat_exit"]
	assert.True(t, exit["openat_exit"])
	assert.Equal(t, "open_event", perf.Struct)
	assert.Equal(t, "tid", perf.ThreadKind)
	args := map[string]int{}
	for _, f := range perf.Fields {
		args[f.Field] = f.Arg
	}
	assert.Equal(t, map[string]int{"dfd": 1, "path": 2, "flags": 3, "mode": 4}, args, "through the entry program's map")

	connect, sendto := records["trace_connect"], records["trace_sendto"]
	assert.Equal(t, "net_event", connect.Struct)
	assert.Equal(t, "tid", connect.Thread, "tid preferred to pid")
	assert.Equal(t, map[string]uint64{"op": 1}, connect.Consts, "NET_CONNECT, an enumerator of snoop.h")
	assert.Equal(t, map[string]uint64{"op": 2}, sendto.Consts)
	args = map[string]int{}
	for _, f := range sendto.Fields {
		args[f.Field] = f.Arg
	}
	assert.Equal(t, map[string]int{"fd": 1, "len": 3, "flags": 4, "addr": 5, "addrlen": 6}, args, "new_event's parameters are sendto's arguments")
	assert.Len(t, sendto.StructFields, 8)
}

// Records written other ways: a struct on the stack to a perf buffer,
// bpf_ringbuf_output, a thread id narrowed by its declaration, a feature
// switched off by #ifdef.
func TestScanRecordForms(t *testing.T) {
	dir := t.TempDir()
	src := `#include "vmlinux.h"
struct rec { __u32 tid; int fd; __u64 count; };
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); } perf_events SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); } rb SEC(".maps");

SEC("ksyscall/write")
int BPF_KSYSCALL(on_write, int fd, const void *buf, size_t count)
{
	struct rec r = {};
	__u32 tid = bpf_get_current_pid_tgid();

	r.tid = tid;
#ifdef WRONG
	r.fd = count;
#else
	r.fd = fd;
#endif
	r.count = count;
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &r, sizeof(r));
	return 0;
}

SEC("ksyscall/read")
int BPF_KSYSCALL(on_read, unsigned int fd, char *buf, size_t count)
{
	struct rec r = {};

	r.fd = fd;
	bpf_ringbuf_output(&rb, &r, sizeof(r), 0);
	return 0;
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "io.bpf.c"), []byte(src), 0o644))
	p, err := Scan(dir)
	require.NoError(t, err)
	require.Len(t, p.Collections, 1)
	progs := p.Collections[0].Programs
	require.Len(t, progs, 2)
	require.Len(t, progs[0].Records, 1)
	w := progs[0].Records[0]
	assert.Equal(t, "perf_events", w.Map)
	assert.Equal(t, "rec", w.Struct)
	assert.Equal(t, []FieldRead{{Field: "fd", Arg: 1, Line: 16}, {Field: "count", Arg: 3, Line: 18}}, w.Fields)
	assert.Equal(t, "tid", w.Thread)
	require.Len(t, progs[1].Records, 1)
	r := progs[1].Records[0]
	assert.Equal(t, "rb", r.Map)
	assert.Equal(t, []FieldRead{{Field: "fd", Arg: 1, Line: 28}}, r.Fields)
	assert.Empty(t, r.Thread)
	assert.Contains(t, summary(r, "read"), "struct rec in rb: 1 of its 3 fields hold read's arguments (fd); none the thread or process")
}

// What init writes for examples/snoop loads, and each case reads the
// records of its tool.
func TestRenderSnoopLoads(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../../examples/snoop", dir)
	require.NoError(t, os.Remove(filepath.Join(dir, "ksystest.yaml")))
	p, err := Scan(dir)
	require.NoError(t, err)
	out := Render(p, builtinCatalogue(t))
	mine := loads(t, out)
	cd, ok := mine.Find("opensnoop_perf-openat")
	require.True(t, ok, "%s", out)
	require.Len(t, cd.Captures, 1)
	set := cd.Captures[0]
	assert.Equal(t, "openat_entry", set.Program)
	assert.Equal(t, []string{"openat_exit"}, set.Programs)
	assert.Equal(t, "tid", set.TID)
	var fields []string
	for _, a := range set.Args {
		fields = append(fields, a.Field)
	}
	assert.Equal(t, []string{"dfd", "path", "flags", "mode"}, fields)
	assert.Contains(t, string(out), "# inferred: struct open_event in events: 4 of its 7 fields hold openat's arguments (dfd, flags, mode, path), tid the thread")
	written, commented := Cases(p, builtinCatalogue(t))
	assert.Equal(t, 4, written)
	assert.Zero(t, commented)
	assert.Len(t, Findings(p), 4)
	assert.True(t, strings.HasPrefix(Findings(p)[0], "netsnoop-connect: struct net_event in events: 3 of its 8 fields"), Findings(p)[0])
}

// loads writes a config beside nothing and loads it as run would.
func loads(t *testing.T, out []byte) *matrix.Catalogue {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ksystest.yaml")
	require.NoError(t, os.WriteFile(f, out, 0o644))
	m, err := matrix.Load(f, ksystest.Data)
	require.NoError(t, err, "%s", out)
	cat, err := m.Catalogue()
	require.NoError(t, err, "%s", out)
	return cat
}
