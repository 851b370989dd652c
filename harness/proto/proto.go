// Package proto holds the types that cross the host/guest boundary: the case
// catalogue the host hands to the agent, and the events the agent sends back
// over the console. Standard library only: the agent links it, and so does
// the host. Every event carries Version; a host refuses events of a version
// it does not know.
package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Version is the wire version of Event and Catalogue.
const Version = 2

// Marker starts every event line on the console. Everything else on the
// console is left for humans and crash scanning.
const Marker = "@@ksystest@@ "

// Paths inside the initramfs.
const (
	CataloguePath = "/ksystest/cases.json"
	// WorkloadsDir holds workload programs.
	WorkloadsDir = "/ksystest/workloads"
	// ProbesPath holds ksystest's own probe object for the guest's arch.
	ProbesPath = "/ksystest/bpf/ksystest.o"
	// CompatHelperPath is the 32-bit helper, on guests that run one.
	CompatHelperPath = "/ksystest/compat"
	// BTFPath holds the kernel's BTF when the kernel has none of its own.
	BTFPath = "/ksystest/vmlinux.btf"
)

// Catalogue is the list of cases the agent runs, in order, and the BPF
// collections their probes come from.
type Catalogue struct {
	Version int `json:"version"`
	// Collections are loaded in order, each on its own; the first is
	// ksystest's own probes (Builtin).
	Collections []Collection `json:"collections"`
	Cases       []Case       `json:"cases"`
	// EntryOffset, when not zero, attaches ksyscall/ and kprobe/SYMBOL
	// probes this many bytes into the function: the kernel refuses a
	// kprobe on the ftrace patch site at its entry (riscv64 without
	// CONFIG_KPROBES_ON_FTRACE). Cases with AtEntry attach at the entry
	// anyway, as loaders do.
	EntryOffset uint64 `json:"entry_offset,omitempty"`
}

// Builtin names ksystest's own probe collection.
const Builtin = "ksystest"

// Loaders: what loads a collection, resolves its externs and attaches its
// programs. A verdict on a user's collection is about the loader the user
// ships, so each runs as it ships.
const (
	// LoaderCiliumEBPF is the cilium/ebpf ksystest is built with, strictly
	// as it ships: the whole collection loads at once, its failure to
	// resolve an extern is the collection's failure, and ksyscall/NAME
	// programs attach as its users attach them, link.Kprobe("sys_NAME")
	// at the function's entry.
	LoaderCiliumEBPF = "cilium/ebpf"
	// LoaderKsystest is cilium/ebpf with ksystest's help: each program
	// loads when a case first needs it, LINUX_HAS_SYSCALL_WRAPPER comes
	// from /proc/kallsyms where cilium/ebpf cannot resolve it, and probes
	// attach past an ftrace patch site the kernel will not probe
	// (Catalogue.EntryOffset). ksystest's own probes load this way: their
	// verdicts are about the kernel, not about a loader.
	LoaderKsystest = "ksystest"
	// LoaderLibbpf11 and LoaderLibbpf15 are libbpf as Debian ships it
	// (bookworm's 1.1, trixie's 1.5), in a static helper the agent runs
	// (LibbpfPath): libbpf opens and loads the collection, resolves its
	// externs and attaches its programs with its own auto-attach.
	LoaderLibbpf11 = "libbpf-1.1"
	LoaderLibbpf15 = "libbpf-1.5"
)

// IsLibbpf reports whether loader is one of the libbpf loaders.
func IsLibbpf(loader string) bool {
	return loader == LoaderLibbpf11 || loader == LoaderLibbpf15
}

// LibbpfVersion is the libbpf version of a libbpf loader ("1.5").
func LibbpfVersion(loader string) string { return strings.TrimPrefix(loader, "libbpf-") }

// LibbpfDir holds the libbpf loaders' helpers in the guest.
const LibbpfDir = "/ksystest/libbpf"

// LibbpfPath is where a libbpf loader's helper lies in the guest.
func LibbpfPath(loader string) string { return LibbpfDir + "/" + loader }

// Collection is one BPF object the agent loads, on its own.
type Collection struct {
	// Name is unique in the catalogue: a user's collection loaded by
	// several loaders appears once per loader (NAME@LOADER).
	Name string `json:"name"`
	// Path is the object inside the initramfs.
	Path string `json:"path"`
	// Loader loads it (LoaderCiliumEBPF, LoaderKsystest, ...).
	Loader string `json:"loader"`
	// Constants set .rodata globals before loading: a number, or ${pid}
	// or ${tid} of the thread making the cases' calls.
	Constants map[string]string `json:"constants,omitempty"`
	// LoaderArgs are more arguments for a libbpf loader's helper (tests
	// make it mis-resolve on purpose with them).
	LoaderArgs []string `json:"loader_args,omitempty"`
}

// CollectionsDir holds users' collections in the initramfs.
const CollectionsDir = "/ksystest/collections"

// Case is one syscall invocation and the probe that should see it.
type Case struct {
	Name string `json:"name"`
	// Probe is the BPF program (its C function name) that should capture
	// the call. Its section, ksyscall/NAME, says where it attaches.
	Probe string `json:"probe"`
	// Syscall is the syscall the agent issues, by its name in the guest's
	// syscall table.
	Syscall string `json:"syscall"`
	// Args are the values the probe reports, in the syscall's documented
	// (x86_64) order. Values of the form deref:N are not passed: they are
	// the first 8 bytes of memory that argument N points to.
	Args []Arg `json:"args"`
	// Via says how the call is made: "raw" (the default: a raw syscall)
	// or a Go standard library path (ViaGo*).
	Via string `json:"via,omitempty"`
	// Order, for raw calls, puts Args in registers: register i gets
	// Args[Order[i]-1]. Empty means Args' own order.
	Order []int `json:"order,omitempty"`
	// Pack passes the register arguments in a user-memory array whose
	// address goes in the first register (s390x's old_mmap).
	Pack bool `json:"pack,omitempty"`
	// Compat issues the call from a 32-bit helper process (GOARCH=386 on
	// x86_64, arm on arm64): the kernel's compat entry points.
	Compat bool `json:"compat,omitempty"`
	// AtEntry attaches the probe at the function's entry whatever
	// EntryOffset says, as cilium/ebpf and libbpf do.
	AtEntry bool `json:"at_entry,omitempty"`
	// Collection holds the probes (default: Builtin).
	Collection string `json:"collection,omitempty"`
	// Captures say where a user's program records its readings of the
	// call; each program named is attached for the case.
	Captures []Capture `json:"captures,omitempty"`
	// Workload, when set, makes this a workload case: no call of the
	// agent's own, but a program run with probes attached (Probe, Syscall
	// and Args are then unused).
	Workload *Workload `json:"workload,omitempty"`
}

// Workload is a program the agent runs, once per round, with the round's
// probes attached and the tracepoint recording the calls they watch.
type Workload struct {
	// Path is the program inside the initramfs, Args its arguments.
	Path       string   `json:"path"`
	Args       []string `json:"args,omitempty"`
	TimeoutSec int      `json:"timeout_sec"`
	// Collection is the user's collection (NAME@LOADER) whose programs
	// the rounds attach; empty: ksystest's own probes. It is loaded again
	// for each run of the program, its ${pid} and ${tid} constants then
	// the program's (the process started, stopped before its first
	// instruction), and the tracepoint records that process only.
	Collection string `json:"collection,omitempty"`
	// Rounds: no two probes of a round watch the same syscall number, so
	// the tracepoint record before a probe's report on the same thread
	// says which probe reported.
	Rounds [][]WorkloadProbe `json:"rounds"`
	// Watch are the syscall numbers the tracepoint records while the
	// program runs, with what it reads through.
	Watch []Watch `json:"watch"`
}

// WorkloadProbe is a program attached for a round and the syscall
// numbers whose calls it should see.
type WorkloadProbe struct {
	Program string  `json:"program"`
	NRs     []int64 `json:"nrs"`
	// Set, for a program of the user's collection (Workload.Collection),
	// is where it records its readings: the capture set of its case, read
	// from the collection's ring buffer or perf event array. The agent
	// sends its records (WorkloadRound.Sets); the host ties each to its
	// call.
	Set *Capture `json:"set,omitempty"`
}

// Watch is one syscall number the tracepoint records during a workload,
// and the words it copies from where argument DerefArg (0-based) points
// (Words of WordSize bytes; Words 0: none), and the user memory it reads
// at entry through argument registers (Contents).
type Watch struct {
	NR       int64          `json:"nr"`
	DerefArg uint8          `json:"deref_arg,omitempty"`
	Words    uint8          `json:"words,omitempty"`
	WordSize uint8          `json:"word_size,omitempty"`
	Contents []WatchContent `json:"contents,omitempty"`
}

// WatchContent is user memory the tracepoint copies at a call's entry:
// the string argument Arg (0-based register) points to (at most
// ContentMax bytes, its NUL included), or the bytes it points to, as many
// as register LenArg holds (at most ContentMax - 1). At most two per
// syscall number.
type WatchContent struct {
	Arg    uint8  `json:"arg"`
	Kind   string `json:"kind"`
	LenArg uint8  `json:"len_arg,omitempty"`
}

// Content kinds: what an argument points to, as a case passes it and as
// the tracepoint reads it.
const (
	ContentString   = "string"   // NUL-terminated (str:PATH, const char __user *)
	ContentSockaddr = "sockaddr" // a socket address of the length another argument gives
	ContentBytes    = "bytes"    // N bytes (buf:N)
)

// ContentMax bounds the user memory the tracepoint copies per argument
// (probes.c's KSYSTEST_CONTENT_MAX).
const ContentMax = 256

// WorkloadResult is what a workload did, per round: the program's exit,
// its output's tail, and every watched call with what the probe reported.
type WorkloadResult struct {
	Rounds []WorkloadRound `json:"rounds"`
}

// WorkloadRound is one run of the program.
type WorkloadRound struct {
	// Exit is the program's exit status; Signal names the signal that
	// killed it, if one did.
	Exit   int    `json:"exit"`
	Signal string `json:"signal,omitempty"`
	// Stdout and Stderr are the ends of its output.
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Calls are the watched calls the program's threads made, in order.
	Calls []WorkloadCall `json:"calls"`
	// Orphans are probe reports with no recorded call before them on
	// their thread.
	Orphans [][]uint64 `json:"orphans,omitempty"`
	// Lost counts ring buffer records that did not fit what the agent
	// keeps.
	Lost int `json:"lost,omitempty"`
	// Errors are probes that did not load or attach, by program.
	Errors map[string]string `json:"errors,omitempty"`
	Error  string            `json:"error,omitempty"`
	// PID is the program's process ID; Sets are the records the user's
	// programs wrote, per program, in the order they were written.
	PID  int           `json:"pid,omitempty"`
	Sets []WorkloadSet `json:"sets,omitempty"`
	// LoadError says the user's collection did not load for the run.
	LoadError string `json:"load_error,omitempty"`
}

// WorkloadSet is what one program of the user's collection recorded
// while the program ran: its capture set's fields and records.
type WorkloadSet struct {
	Program string   `json:"program"`
	Fields  []Field  `json:"fields,omitempty"`
	Records []Record `json:"records,omitempty"`
	// Lost counts records the kernel could not write or the agent did not
	// keep; Agent those of the agent's own threads (not the program's).
	Lost  int    `json:"lost,omitempty"`
	Agent int    `json:"agent,omitempty"`
	Error string `json:"error,omitempty"`
}

// WorkloadCall is one call as the tracepoint saw it and what the round's
// probe for its number reported on the same thread before the next
// recorded call.
type WorkloadCall struct {
	TID   uint32   `json:"tid"`
	NR    int64    `json:"nr"`
	Args  []uint64 `json:"args"`
	Deref []uint64 `json:"deref,omitempty"`
	// Program is the probe watching NR this round.
	Program  string     `json:"program"`
	Captured [][]uint64 `json:"captured,omitempty"`
	// Contents are what the tracepoint read through the call's arguments
	// (Watch.Contents), in that order.
	Contents []Content `json:"contents,omitempty"`
}

// Content is user memory the tracepoint read at a call's entry: Data (a
// string with its NUL, unless it was cut at ContentMax bytes), or the
// error the read gave (Err, negative).
type Content struct {
	Arg  uint8  `json:"arg"`
	Data []byte `json:"data,omitempty"`
	Err  int    `json:"err,omitempty"`
}

// Capture is one set of readings of a call: globals or map values per
// argument, the ring buffer rows a program emitted with set number Emit,
// or fields of the records the program writes to a ring buffer or perf
// event array of its own (Events).
type Capture struct {
	Name    string `json:"name"`
	Program string `json:"program"`
	// Programs are more programs attached for the set: an exit program
	// (kretsyscall/) that completes the record its entry program began.
	Programs []string `json:"programs,omitempty"`
	Emit     *int     `json:"emit,omitempty"`
	// Events is the collection's ring buffer or perf event array the
	// program writes its records to, Record the BTF struct of a record.
	// TID and PID name the record's fields that hold the thread and the
	// process that made the call (none: records are tied to calls by
	// their order).
	Events string `json:"events,omitempty"`
	Record string `json:"record,omitempty"`
	TID    string `json:"tid,omitempty"`
	PID    string `json:"pid,omitempty"`
	// Select keeps the records whose fields hold these values (an event
	// type, where the program writes several kinds of record to one map).
	Select map[string]uint64 `json:"select,omitempty"`
	Args   []CaptureArg      `json:"args"`
}

// CaptureArg is where one reading is: a global, a map's value at Key
// (Offset, Size bytes; Size 0: the value, up to 8 bytes), or a field of
// the set's records (path, addr.sin_port, args[2]). None: not read.
type CaptureArg struct {
	Global string `json:"global,omitempty"`
	Map    string `json:"map,omitempty"`
	Key    string `json:"key,omitempty"`
	Offset int    `json:"offset,omitempty"`
	Size   int    `json:"size,omitempty"`
	Field  string `json:"field,omitempty"`
}

// Pad is what a raw call puts in register i (0-based) when the syscall
// takes fewer arguments: distinctive, so that a probe reading another
// ABI's registers shows which one it read. Guests of 32-bit arches pass
// its low half.
func Pad(i int) uint64 { return 0x7e7e00007e7e0000 | uint64(i+1)*0x11 }

// Ways a case can make its call besides a raw syscall.
const (
	ViaRaw = "raw"
	// ViaEffects makes the raw call for real and reports what the kernel
	// did with each argument (clone: a real child, stopped and read
	// through ptrace).
	ViaEffects   = "effects"
	ViaGoMmap    = "go:syscall.Mmap"
	ViaGoConnect = "go:syscall.Connect"
	ViaGoNetDial = "go:net.Dial"
)

// Arg is one argument as the agent passes it.
//
// Value is one of:
//
//	a number           passed as is (decimal, 0x hex, or negative)
//	fd:PATH            a file descriptor for PATH, opened read-write
//	buf:N              the address of an N-byte buffer filled with a pattern
//	str:TEXT           the address of TEXT, NUL-terminated
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// EventType names what an Event reports.
type EventType string

const (
	// EventHello: the agent runs (PID 1 started, mounts done).
	EventHello EventType = "hello"
	// EventLoaded: what loading the probes took and learnt; sent after
	// the cases, since each probe loads when a case first needs it.
	EventLoaded EventType = "loaded"
	// EventCase: one case ran; carries what was passed and captured.
	EventCase EventType = "case"
	// EventError: the agent hit an error it cannot go on from. One that
	// begins with UnsupportedKernel is the kernel's lack, not the agent's
	// failure.
	EventError EventType = "error"
	// EventDone: every case ran; the agent powers off next.
	EventDone EventType = "done"
)

// UnsupportedKernel begins the error of a kernel that lacks what ksystest
// cannot do without ("unsupported kernel: RELEASE lacks ..."): the agent
// found it before any case, and its target cannot be tested.
const UnsupportedKernel = "unsupported kernel: "

// Event is one message from the agent to the host.
type Event struct {
	Version int       `json:"v"`
	Seq     int       `json:"seq"`
	Type    EventType `json:"type"`

	Hello  *Hello      `json:"hello,omitempty"`
	Loaded *Loaded     `json:"loaded,omitempty"`
	Case   *CaseResult `json:"case,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// Hello describes the guest as the agent sees it.
type Hello struct {
	Kernel  string `json:"kernel"`  // uname -r
	Machine string `json:"machine"` // uname -m
	GOARCH  string `json:"goarch"`
	// UptimeSec is the kernel's uptime when the agent started.
	UptimeSec float64 `json:"uptime_sec"`
}

// Loaded reports how the probes were loaded.
type Loaded struct {
	// Programs are those loaded.
	Programs []string `json:"programs"`
	// LoadMillis is how long loading took: the maps, and every program.
	LoadMillis int64   `json:"load_ms"`
	Wrapper    Wrapper `json:"wrapper"`
	// Collections are every collection's load: ksystest's and users'.
	Collections []CollectionLoad `json:"collections,omitempty"`
	// BTFMillis is reading the kernel's types (for CO-RE); AttachMillis
	// attaching and detaching probes, CasesMillis the whole case loop
	// (loads and attaches included), all in the guest.
	BTFMillis    int64 `json:"btf_ms"`
	AttachMillis int64 `json:"attach_ms"`
	CasesMillis  int64 `json:"cases_ms"`
	// SetupMillis is the agent's start to its first case (the catalogue,
	// BTF, kallsyms, reading the objects, the maps, the oracle);
	// KallsymsMillis reading /proc/kallsyms for the wrapper's entry
	// points; CaseLoadMillis the programs loaded inside the case loop.
	SetupMillis    int64 `json:"setup_ms,omitempty"`
	KallsymsMillis int64 `json:"kallsyms_ms,omitempty"`
	CaseLoadMillis int64 `json:"case_load_ms,omitempty"`
}

// CollectionLoad is how loading one collection went.
type CollectionLoad struct {
	Name       string   `json:"name"`
	Programs   []string `json:"programs,omitempty"`
	LoadMillis int64    `json:"load_ms"`
	// Error is why it did not load (its maps or constants, or with a
	// loader that loads a collection whole, any of it); a program's own
	// load error under LoaderKsystest is its case's.
	Error string `json:"error,omitempty"`
	// Loader is what loaded it, LoaderVersion that loader's version, and
	// Wrapper the LINUX_HAS_SYSCALL_WRAPPER it resolved, read back from
	// the loaded programs (nil: none reads it, or it did not load).
	Loader        string `json:"loader,omitempty"`
	LoaderVersion string `json:"loader_version,omitempty"`
	Wrapper       *int   `json:"wrapper,omitempty"`
	// ResolvedBy says who resolved Wrapper (ksystest's fallback names
	// itself).
	ResolvedBy string `json:"resolved_by,omitempty"`
}

// Wrapper is what the guest shows about CONFIG_ARCH_HAS_SYSCALL_WRAPPER.
type Wrapper struct {
	// Symbols are the __*_sys_bpf symbols in /proc/kallsyms.
	Symbols []string `json:"symbols"`
	// Loader is LINUX_HAS_SYSCALL_WRAPPER as read back from the loaded
	// probes' .kconfig map; nil when it could not be read (ReadError).
	Loader    *int   `json:"loader,omitempty"`
	ReadError string `json:"read_error,omitempty"`
	// ResolvedBy says who resolved the value: cilium/ebpf, or ksystest's
	// fallback and why.
	ResolvedBy string `json:"resolved_by"`
}

// CaseResult is what the agent observed for one case. It judges nothing:
// the host compares.
type CaseResult struct {
	Name string `json:"name"`
	// Attach is the kernel symbol the probe was attached to.
	Attach string `json:"attach,omitempty"`
	// Attached is, for every program attached for the case, the kernel
	// function it attached to, as the kernel lists its kprobes.
	Attached map[string]string `json:"attached,omitempty"`
	// Passed are the argument values the agent actually passed, in the
	// order of Case.Args.
	Passed []uint64 `json:"passed"`
	// Regs are the raw syscall's six argument registers, as the agent
	// filled them (after Order and Pack, the rest padded with Pad); empty
	// for Go library paths. NArgs of them are the call's arguments.
	Regs  []uint64 `json:"regs,omitempty"`
	NArgs int      `json:"nargs,omitempty"`
	// Contents are, per argument passed as a pointer to content (str:,
	// sockaddr:, buf:), the bytes it pointed to (a string without its
	// NUL); nil for the others.
	Contents [][]byte `json:"contents,omitempty"`
	// PID and TID are the process and thread that made the call.
	PID int `json:"pid,omitempty"`
	TID int `json:"tid,omitempty"`
	// Ret and Errno are the syscall's result.
	Ret   int64 `json:"ret"`
	Errno int   `json:"errno"`
	// Captures holds one row of argument values per event the probe sent
	// from the agent's trigger thread.
	Captures [][]uint64 `json:"captures"`
	// NR is the syscall number of a raw call, -1 for a Go library path.
	NR int64 `json:"nr"`
	// Oracle holds what the raw_syscalls/sys_enter tracepoint saw on the
	// calling thread during the case: every syscall, in order.
	Oracle []OracleCall `json:"oracle,omitempty"`
	// OracleError says why there is no tracepoint record (unavailable).
	OracleError string `json:"oracle_error,omitempty"`
	// Effects is what a ViaEffects call did.
	Effects *Effects `json:"effects,omitempty"`
	// Sets are the readings of each of the case's Captures, in order.
	Sets []SetResult `json:"sets,omitempty"`
	// Runs is how often each program attached for the case ran during
	// the call (BPF run counts), by name; nil when the kernel keeps no
	// counts.
	Runs map[string]uint64 `json:"runs,omitempty"`
	// Section is the probe's ELF section (ksyscall/write, kprobe/SYM).
	Section string `json:"section,omitempty"`
	// AttachError says the probe could not be attached (for example: no
	// such symbol on this kernel); the call was still made.
	AttachError string `json:"attach_error,omitempty"`
	// LoadError says the kernel would not load the probe (the verifier
	// log included); the call was still made.
	LoadError string `json:"load_error,omitempty"`
	// Error says why the case could not run (probe did not load, bad
	// argument spec); Captures is then empty.
	Error string `json:"error,omitempty"`
	// Workload is what a workload case's program did.
	Workload *WorkloadResult `json:"workload,omitempty"`
}

// SetResult is one capture set's readings: per argument a value (nil:
// not read, with Errors saying why) and, for a global that is an array,
// its bytes (Contents); the ring buffer rows of its set number; or the
// records of its own ring buffer or perf event array, with where each
// argument's field is in them.
type SetResult struct {
	Values   []*uint64  `json:"values,omitempty"`
	Errors   []string   `json:"errors,omitempty"`
	Rows     [][]uint64 `json:"rows,omitempty"`
	Contents [][]byte   `json:"contents,omitempty"`
	// Fields describe each argument's field (Events) or global (Contents).
	Fields  []Field  `json:"fields,omitempty"`
	Records []Record `json:"records,omitempty"`
	// Lost counts records the kernel could not write, or past what the
	// agent keeps; Error says why the records could not be read at all;
	// Unselected counts the records Select left out.
	Lost       int    `json:"lost,omitempty"`
	Error      string `json:"error,omitempty"`
	Unselected int    `json:"unselected,omitempty"`
}

// Field is where an argument's reading is in a record (or what a global
// is), from the object's BTF: its C type, offset and size in bytes. The
// bytes of an array or a struct are content (a string or a socket address
// the program copied: Content), anything else a number, widened with its
// sign. Error says why the field was not found.
type Field struct {
	Type    string `json:"type,omitempty"`
	Offset  int    `json:"offset,omitempty"`
	Size    int    `json:"size,omitempty"`
	Content bool   `json:"content,omitempty"`
	Signed  bool   `json:"signed,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Record is one record a program wrote, Size bytes, decoded per argument:
// a number (Values) or a content field's bytes (Bytes), nil where the
// field is not in the record; Thread is its TID or PID field.
type Record struct {
	Size   int       `json:"size"`
	Thread *uint64   `json:"thread,omitempty"`
	Values []*uint64 `json:"values"`
	Bytes  [][]byte  `json:"bytes,omitempty"`
}

// Effects is what a real clone did: the child's thread id, the 32-bit
// word at each argument's address (where it is one of the agent's
// buffers) read in the parent and in the stopped child after the call, and
// the child's thread pointer as its tracer reads it.
type Effects struct {
	ChildTID uint32   `json:"child_tid"`
	Parent   []uint32 `json:"parent"`
	Child    []uint32 `json:"child"`
	// Buffer marks the arguments that are the agent's buffers.
	Buffer []bool `json:"buffer"`
	TLS    uint64 `json:"tls"`
	// TLSWant is the thread pointer the tls argument asked for.
	TLSWant uint64 `json:"tls_want"`
	Error   string `json:"error,omitempty"`
}

// OracleCall is one syscall entry as the tracepoint saw it.
type OracleCall struct {
	NR   int64    `json:"nr"`
	Args []uint64 `json:"args"`
	// Deref are the words an argument pointed to, for the syscalls the
	// agent asked the oracle to read through (socketcall, old_mmap).
	Deref []uint64 `json:"deref,omitempty"`
}

// CompatHello is the compat helper's first line: the thread it issues
// calls from.
type CompatHello struct {
	TID    int    `json:"tid"`
	GOARCH string `json:"goarch"`
}

// Encode renders e as one console line, marker included, newline ended.
func Encode(e Event) []byte {
	e.Version = Version
	b, err := json.Marshal(e)
	if err != nil {
		// Event has only marshalable fields; this is a programming error.
		panic(err)
	}
	return append(append([]byte(Marker), b...), '\n')
}

// ErrNotEvent means a console line carries no event.
var ErrNotEvent = errors.New("not an event line")

// Decode parses a console line. Lines without the marker give ErrNotEvent;
// lines with it that do not parse are errors, since a garbled event must not
// pass unnoticed. The marker may follow other text on the same line: the
// kernel can print in the middle of a console line.
func Decode(line []byte) (Event, error) {
	i := bytes.Index(line, []byte(Marker))
	if i < 0 {
		return Event{}, ErrNotEvent
	}
	payload := strings.TrimRight(string(line[i+len(Marker):]), "\r\n")
	var e Event
	dec := json.NewDecoder(strings.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("decode event %q: %w", payload, err)
	}
	if e.Version != Version {
		return Event{}, fmt.Errorf("event version %d, want %d", e.Version, Version)
	}
	if err := e.check(); err != nil {
		return Event{}, fmt.Errorf("event %q: %w", payload, err)
	}
	return e, nil
}

// check says what is wrong with an event's shape: a type the host does
// not know, the body its type needs missing, another type's body, or a
// sequence number the agent never writes (it counts from 1).
func (e Event) check() error {
	bodies := map[EventType]bool{
		EventHello: e.Hello != nil, EventLoaded: e.Loaded != nil,
		EventCase: e.Case != nil, EventError: e.Error != "", EventDone: false,
	}
	has, known := bodies[e.Type]
	if !known {
		return fmt.Errorf("unknown type %q", e.Type)
	}
	if e.Type != EventDone && !has {
		return fmt.Errorf("a %s event without its %s", e.Type, e.Type)
	}
	for t, set := range bodies {
		if set && t != e.Type {
			return fmt.Errorf("a %s event carrying a %s", e.Type, t)
		}
	}
	if e.Seq < 1 {
		return fmt.Errorf("sequence number %d: the agent counts from 1", e.Seq)
	}
	if e.Case != nil && e.Case.Name == "" {
		return errors.New("a case without a name")
	}
	return nil
}
