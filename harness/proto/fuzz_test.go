package proto

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/internal/fuzzseed"
)

// FuzzDecode: any console line decodes or gives an error without
// panicking; a line without the marker is never an event; what decodes
// has this version, and encoding it again loses nothing: what the host
// reads is all it keeps (empty and absent lists are the same to it).
func FuzzDecode(f *testing.F) {
	// Events as the agent writes them; they change with the types, so
	// they are added here rather than committed.
	for _, e := range encodedEvents() {
		f.Add(Encode(e))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := Decode(line)
		if !bytes.Contains(line, []byte(Marker)) {
			require.ErrorIs(t, err, ErrNotEvent)
			return
		}
		if err != nil {
			require.False(t, errors.Is(err, ErrNotEvent), "a marked line is an event or an error")
			return
		}
		require.Equal(t, Version, e.Version)
		line = Encode(e)
		again, err := Decode(line)
		require.NoError(t, err)
		require.Equal(t, string(line), string(Encode(again)))
	})
}

// encodedEvents is one event of every type, every field set.
func encodedEvents() []Event {
	seven := uint64(7)
	one := 1
	return []Event{
		{Seq: 1, Type: EventHello, Hello: &Hello{Kernel: "6.1.0-50-arm64", Machine: "aarch64", GOARCH: "arm64", UptimeSec: 1.25}},
		{Seq: 2, Type: EventCase, Case: &CaseResult{Name: "clone-naive", Attach: "__arm64_sys_clone",
			Passed: []uint64{0x811, 0x2202}, Regs: []uint64{0x811, 0x2202, 0, 0, 0, 0}, NArgs: 2, Ret: -1, Errno: 22,
			Captures: [][]uint64{{0x2202, 0x811}, {}}, NR: 220, Oracle: []OracleCall{{NR: 220, Args: []uint64{0x811}, Deref: []uint64{1}}},
			Effects: &Effects{ChildTID: 42, Parent: []uint32{42}, Child: []uint32{0}, Buffer: []bool{true}, TLS: 1, TLSWant: 1},
			Sets: []SetResult{{Values: []*uint64{&seven, nil}, Errors: []string{"", "no global"}, Rows: [][]uint64{{7}},
				Contents: [][]byte{nil, []byte("/etc")}, Fields: []Field{{Type: "int", Offset: 4, Size: 4, Signed: true}, {Type: "char[16]", Size: 16, Content: true, Error: "x"}},
				Records: []Record{{Size: 32, Thread: &seven, Values: []*uint64{&seven, nil}, Bytes: [][]byte{nil, []byte("/e")}}}, Lost: 1, Error: "e", Unselected: 2}},
			Contents: [][]byte{nil, []byte("/etc")}, PID: 40, TID: 42,
			Workload: &WorkloadResult{Rounds: []WorkloadRound{{Exit: 1, Signal: "SIGKILL", Stdout: "o", Stderr: "e",
				Calls: []WorkloadCall{{TID: 42, NR: 257, Args: []uint64{1}, Deref: []uint64{2}, Program: "p", Captured: [][]uint64{{1}},
					Contents: []Content{{Arg: 1, Data: []byte("/etc"), Err: -14}}}},
				Orphans: [][]uint64{{3}}, Lost: 1, Errors: map[string]string{"p": "e"}, Error: "e", PID: 50, LoadError: "l",
				Sets: []WorkloadSet{{Program: "p", Fields: []Field{{Type: "int", Size: 4}}, Records: []Record{{Size: 4, Values: []*uint64{&seven}}}, Lost: 1, Agent: 2, Error: "e"}}}}},
			Runs: map[string]uint64{"naive_clone": 1}, Section: "ksyscall/clone", AttachError: "a", LoadError: "b\nc", Error: "d"}},
		{Seq: 3, Type: EventLoaded, Loaded: &Loaded{Programs: []string{"p"}, LoadMillis: 12,
			Wrapper:     Wrapper{Symbols: []string{"__arm64_sys_bpf"}, Loader: &one, ResolvedBy: "cilium/ebpf"},
			Collections: []CollectionLoad{{Name: "ksystest", Programs: []string{"p"}, LoadMillis: 3, Error: "e"}}}},
		{Seq: 4, Type: EventError, Error: "mount tracefs: ENODEV"},
		{Seq: 5, Type: EventDone},
	}
}

// seedLines are FuzzDecode's hand-made seeds, committed under
// testdata/fuzz/FuzzDecode/seed-NAME: lines the agent never writes.
func seedLines() map[string]string {
	return map[string]string{
		"not-event":      "[    1.2] Booting Linux on physical CPU 0x0",
		"garbled":        Marker + `{"v":2,"type":"ca`,
		"old-version":    Marker + `{"v":1,"type":"done"}`,
		"unknown-field":  Marker + `{"v":2,"type":"done","surprise":1}`,
		"after-kernel":   "[    3.1] random: crng init done" + Marker + `{"v":2,"seq":9,"type":"done"}` + "\r",
		"trailing-text":  Marker + `{"v":2,"type":"done"} [    3.1] x`,
		"two-markers":    Marker + Marker + `{"v":2,"type":"done"}`,
		"null-case":      Marker + `{"v":2,"type":"case","case":null}`,
		"huge-number":    Marker + `{"v":2,"type":"case","case":{"name":"x","passed":[18446744073709551616]}}`,
		"negative-nargs": Marker + `{"v":2,"type":"case","case":{"name":"x","nargs":-5,"regs":[1]}}`,
		"records": Marker + `{"v":2,"seq":1,"type":"case","case":{"name":"x","passed":[1],"tid":42,"contents":[null,"L2V0Yw=="],` +
			`"sets":[{"fields":[{"type":"char[4]","size":4,"content":true},{"size":-8}],"records":[{"size":3,"thread":42,"values":[null,7],"bytes":["L2U="]}]}]}}`,
		"workload-sets": Marker + `{"v":2,"seq":1,"type":"case","case":{"name":"w","passed":null,"workload":{"rounds":[{"exit":0,"pid":9,` +
			`"calls":[{"tid":9,"nr":257,"args":[1,2],"program":"p","contents":[{"arg":1,"data":"L2V0Yw=="},{"arg":4,"err":-14}]}],` +
			`"sets":[{"program":"p","fields":[{"size":4}],"records":[{"size":4,"thread":9,"values":[5]}],"agent":1}]}]}}}`,
	}
}

// TestFuzzDecodeSeeds keeps FuzzDecode's committed seeds what seedLines
// says; run it with -update-seeds to write them.
func TestFuzzDecodeSeeds(t *testing.T) {
	seeds := seedLines()
	fuzzseed.Check(t, "FuzzDecode", seeds, *updateSeeds)
	fuzzseed.NoOthers(t, "FuzzDecode", seeds)
}
