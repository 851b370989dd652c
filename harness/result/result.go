// Package result defines what a run produces: per case a verdict with the
// per-argument evidence, per cell (target) exactly one outcome with its
// evidence, and the run that holds them. These are the types results.json
// is written from. It is a leaf: it imports nothing from the project.
package result

import "time"

// SchemaVersion is the version of results.json.
const SchemaVersion = 1

// Verdict judges one case.
type Verdict string

const (
	// Pass: the probe captured every argument, as expected.
	Pass Verdict = "pass"
	// QuirkConfirmed: a naive probe went wrong exactly as predicted.
	QuirkConfirmed Verdict = "quirk-confirmed"
	// Handled: an aware probe recovered every real argument.
	Handled Verdict = "handled"
	// Fail: anything else, including a predicted quirk that did not
	// appear.
	Fail Verdict = "fail"
)

// OK reports whether the verdict is as expected.
func (v Verdict) OK() bool { return v == Pass || v == QuirkConfirmed || v == Handled }

// Outcome ends every cell, exactly one each.
type Outcome string

const (
	OutcomePass Outcome = "pass" // booted, ran every case, every verdict passed
	OutcomeFail Outcome = "fail" // ran, and at least one case failed
	// OutcomeBootError: the guest never reached the agent (no crash seen).
	OutcomeBootError Outcome = "boot-error"
	// OutcomeCrash: the kernel panicked or oopsed, or the guest ended
	// without the agent's done.
	OutcomeCrash Outcome = "crash"
	// OutcomeTimeout: the agent started but stopped making progress.
	OutcomeTimeout Outcome = "timeout"
	// OutcomeInfraError: the host failed (QEMU missing, download failed,
	// interrupted): says nothing about the kernel.
	OutcomeInfraError Outcome = "infra-error"
	// OutcomeConfigError: the configuration is wrong (a user's BPF source
	// does not compile, a collection has no object for the arch, a locked
	// kernel disagrees with the archive's signed index): says nothing about
	// the kernel, and trying again will not help.
	OutcomeConfigError Outcome = "config-error"
)

// IsInfra reports whether the outcome is the host's fault, not a finding.
func (o Outcome) IsInfra() bool { return o == OutcomeInfraError || o == OutcomeBootError }

// SaysNothing reports whether the outcome says nothing of the kernel or
// the probes: the host or the configuration stopped the cell
// (infra-error, boot-error, config-error).
func (o Outcome) SaysNothing() bool { return o.IsInfra() || o == OutcomeConfigError }

// Arg is one argument of one case: what was passed and what the probe saw.
type Arg struct {
	Name     string  `json:"name"`
	Expect   string  `json:"expect"`
	Passed   uint64  `json:"passed"`
	Captured *uint64 `json:"captured"` // nil: the probe did not fire or did not report it
	// Tracepoint is the value raw_syscalls/sys_enter saw for this
	// argument, when the call passed it in a register of its own.
	Tracepoint *uint64 `json:"tracepoint,omitempty"`
	OK         bool    `json:"ok"`
	// Note explains a mismatch in words ("equals passed arg 5 (len)").
	Note string `json:"note,omitempty"`
	// Effect is what the kernel did with the argument, for a call made
	// for real ("wrote the child's TID here").
	Effect string `json:"effect,omitempty"`
	// From is where a capture set read the argument: "global arg1",
	// "map counts[1234]", "ring set 2", "events field path".
	From string `json:"from,omitempty"`
	// PassedContent and CapturedContent are, for an argument compared by
	// what it points to, what it pointed to and what the program copied,
	// rendered (a quoted string, "AF_INET 127.0.0.1:9", hex); Truncated
	// marks a copy that holds less than was passed and equals it as far
	// as it goes (not OK, and not a mismatch either).
	PassedContent   string `json:"passed_content,omitempty"`
	CapturedContent string `json:"captured_content,omitempty"`
	Truncated       bool   `json:"truncated,omitempty"`
}

// Case is one case's verdict and evidence.
type Case struct {
	Name    string `json:"name"`
	Probe   string `json:"probe"`
	Syscall string `json:"syscall"`
	Via     string `json:"via,omitempty"`
	Compat  bool   `json:"compat,omitempty"`
	Attach  string `json:"attach,omitempty"`
	Quirk   string `json:"quirk,omitempty"`
	Role    string `json:"role,omitempty"`
	// Loader is how a user's collection was loaded for the case (nil for
	// ksystest's own probes).
	Loader *CaseLoader `json:"loader,omitempty"`
	// Predicted is how a naive probe was predicted to go wrong here.
	Predicted string  `json:"predicted,omitempty"`
	Verdict   Verdict `json:"verdict"`
	Args      []Arg   `json:"args"`
	// Kernel is the kernel's parameter names for the syscall beside the
	// catalogue's, in register order.
	Kernel *KernelNames `json:"kernel,omitempty"`
	// Captures is how many events the probe sent for the call.
	Captures int `json:"captures"`
	// Runs is how often the probe ran during the call (BPF run count;
	// nil when the kernel keeps none): it tells "never ran" from "ran
	// and reported nothing".
	Runs *uint64 `json:"runs,omitempty"`
	// Sets are the case's other capture sets: a user's program's
	// readings from its globals, maps or ring buffer sets, each judged.
	Sets    []CaptureSet `json:"sets,omitempty"`
	Oracle  *Oracle      `json:"oracle,omitempty"`
	Ret     int64        `json:"ret"`
	Errno   int          `json:"errno"`
	Message string       `json:"message,omitempty"`
	// NotRun says the agent never reported the case: its guest ended, or
	// never started, before it. Its verdict is fail, but in a cell that is
	// no finding it says nothing of the probe.
	NotRun bool `json:"not_run,omitempty"`
	// Workload is a workload case's account of its program's calls.
	Workload *Workload `json:"workload,omitempty"`
}

// Workload is what a workload case's program did and how every watched
// call compared with what its probe reported.
type Workload struct {
	Program string `json:"program"`
	// Runs are the program's runs, one per round of probes.
	Runs    []WorkloadRun   `json:"runs"`
	Probes  []WorkloadProbe `json:"probes"`
	Summary WorkloadCounts  `json:"summary"`
	// Calls are the calls that were not a plain match (explained or
	// wrong), at most a few per probe, with the per-argument diff.
	Calls []WorkloadCall `json:"calls,omitempty"`
	// Skipped are probes not checked on this target, and why.
	Skipped []string `json:"skipped,omitempty"`
}

// WorkloadRun is one run of the program.
type WorkloadRun struct {
	Probes  []string `json:"probes"`
	Exit    int      `json:"exit"`
	Signal  string   `json:"signal,omitempty"`
	Stdout  string   `json:"stdout,omitempty"`
	Stderr  string   `json:"stderr,omitempty"`
	Error   string   `json:"error,omitempty"`
	Lost    int      `json:"lost,omitempty"`
	Orphans int      `json:"orphans,omitempty"`
}

// WorkloadCounts count a workload's watched calls: made by the program,
// captured by the probe, matching the tracepoint, explained by the
// probe's predicted quirk (captured as predicted, or not seen where the
// probe cannot be), and wrong.
type WorkloadCounts struct {
	Made      int `json:"made"`
	Captured  int `json:"captured"`
	Matching  int `json:"matching"`
	Explained int `json:"explained"`
	Wrong     int `json:"wrong"`
}

// WorkloadProbe is one probe's account.
type WorkloadProbe struct {
	Program string `json:"program"`
	Syscall string `json:"syscall"`
	// Forms are the ways the program's calls reached the kernel
	// ("connect (nr 362)", "socketcall (nr 102)").
	Forms []string `json:"forms"`
	WorkloadCounts
	// Quirk and Predicted name the prediction that explained calls.
	Quirk     string `json:"quirk,omitempty"`
	Predicted string `json:"predicted,omitempty"`
	Error     string `json:"error,omitempty"`
}

// WorkloadCall is one call that was not a plain match.
type WorkloadCall struct {
	Program string `json:"program"`
	TID     uint32 `json:"tid"`
	NR      int64  `json:"nr"`
	Form    string `json:"form"`
	// Verdict is explained or wrong.
	Verdict string `json:"verdict"`
	Note    string `json:"note"`
	// Args: Passed is what the tracepoint saw (decoded), Captured what
	// the probe reported.
	Args []Arg `json:"args"`
}

// Workload call verdicts.
const (
	CallMatch     = "match"
	CallExplained = "explained"
	CallWrong     = "wrong"
)

// CaptureSet is one set of a user program's readings of a call.
type CaptureSet struct {
	Name    string  `json:"name"`
	Program string  `json:"program"`
	Runs    *uint64 `json:"runs,omitempty"`
	Args    []Arg   `json:"args"`
	OK      bool    `json:"ok"`
	Message string  `json:"message,omitempty"`
}

// KernelNames is the third witness of a case: the kernel's own names for
// the syscall's parameters, in the kernel's order, beside the catalogue's
// names in the register order the call used. They must agree (allowing
// documented aliases) or the case fails as a catalogue error.
type KernelNames struct {
	Names []string `json:"names,omitempty"`
	// Source: "BTF __se_sys_clone", "config CONFIG_CLONE_BACKWARDS".
	Source    string   `json:"source,omitempty"`
	Catalogue []string `json:"catalogue,omitempty"`
	Agree     bool     `json:"agree"`
	// Note says why there are no kernel names ("no prototype in BTF"),
	// or how the catalogue disagrees.
	Note string `json:"note,omitempty"`
}

// Oracle is the second, independent witness of a case's call: the
// kernel's raw_syscalls/sys_enter tracepoint.
type Oracle struct {
	Source string `json:"source"`
	// Status: agrees, disagrees, not seen, unavailable, or n/a (a Go
	// library path: several syscalls, no registers known to compare).
	Status string   `json:"status"`
	NR     int64    `json:"nr,omitempty"`
	Args   []uint64 `json:"args,omitempty"`
	Note   string   `json:"note,omitempty"`
}

// Oracle statuses.
const (
	OracleAgrees      = "agrees"
	OracleDisagrees   = "disagrees"
	OracleNotSeen     = "not seen"
	OracleUnavailable = "unavailable"
	OracleNA          = "n/a"
)

// Kernel identifies exactly which kernel a cell booted.
type Kernel struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Suite   string `json:"suite"`
	SHA256  string `json:"sha256"`
	Release string `json:"release"` // uname -r as the guest reported it
	Cached  bool   `json:"cached"`
	// BootImage is what QEMU was given: "vmlinuz" as packaged, or
	// "vmlinux" unpacked from it (x86 PVH boot).
	BootImage string `json:"boot_image,omitempty"`
	BTF       *BTF   `json:"btf,omitempty"`
}

// BTF says where the type information the probes were loaded against
// came from.
type BTF struct {
	Source string `json:"source"` // BTFKernel, BTFFile or BTFPahole
	Bytes  int64  `json:"bytes,omitempty"`
	// From is the -dbg package (name and version) or the user's file.
	From   string `json:"from,omitempty"`
	Pahole string `json:"pahole,omitempty"`
	Cached bool   `json:"cached,omitempty"`
	// Timings of a generation that ran now (zero when cached).
	DownloadSec float64 `json:"download_sec,omitempty"`
	DownloadMB  float64 `json:"download_mb,omitempty"`
	ExtractSec  float64 `json:"extract_sec,omitempty"`
	PaholeSec   float64 `json:"pahole_sec,omitempty"`
	// Shipped is what the guest loads probes against: "subset: N of M
	// types" (only the types the probes' CO-RE relocations name, and what
	// those refer to), or "whole" and why.
	Shipped string `json:"shipped,omitempty"`
}

// BTF sources.
const (
	BTFKernel = "kernel" // the kernel's own, /sys/kernel/btf/vmlinux
	BTFFile   = "file"   // a file the matrix names
	BTFPahole = "pahole" // generated from the kernel's -dbg package
)

// Wrapper is what each source says about CONFIG_ARCH_HAS_SYSCALL_WRAPPER
// on a target; nil means the source could not tell. Any source that
// disagrees with the matrix's declaration fails the target.
type Wrapper struct {
	Declared bool `json:"declared"`
	// Config is the kernel's /boot/config-*.
	Config *bool `json:"config"`
	// Guest is whether /proc/kallsyms has the arch's __PREFIX_sys_bpf.
	Guest   *bool    `json:"guest"`
	Symbols []string `json:"symbols,omitempty"`
	// Loader is LINUX_HAS_SYSCALL_WRAPPER read back from the loaded probes.
	Loader     *bool  `json:"loader"`
	ResolvedBy string `json:"resolved_by,omitempty"`
	// LoaderPredicted is what the loader must resolve on this kernel, from
	// the symbol it looks for; LoaderWrong says it resolved against the
	// kernel, as predicted (a finding about the loader, not a failure of
	// the target: the cases it spoils are judged against it).
	LoaderPredicted *bool `json:"loader_predicted,omitempty"`
	LoaderWrong     bool  `json:"loader_wrong,omitempty"`
	Agree           bool  `json:"agree"`
	// Note says what disagrees, or how the loader is wrong.
	Note string `json:"note,omitempty"`
}

// Timings are seconds since QEMU started (fetch is before it).
type Timings struct {
	// FetchSec is the host's work before QEMU starts: kernel, BTF,
	// compiles, guest programs and the initramfs (HostSec, more
	// precisely, from the cell's start).
	FetchSec      float64 `json:"fetch_sec"`
	HostSec       float64 `json:"host_sec,omitempty"`
	AgentStartSec float64 `json:"agent_start_sec,omitempty"`
	DoneSec       float64 `json:"done_sec,omitempty"`
	ExitSec       float64 `json:"exit_sec,omitempty"`
	// GuestUptimeSec is the kernel's own uptime when the agent started:
	// AgentStartSec minus it is QEMU start to the kernel's first tick
	// (firmware, decompression).
	GuestUptimeSec float64 `json:"guest_uptime_sec,omitempty"`
	// BTFMS is the guest reading the kernel's types; ProbeLoadMS creating
	// maps and loading programs; AttachMS attaching and detaching them;
	// CasesMS the whole case loop (loads and attaches included).
	BTFMS       int64 `json:"btf_ms,omitempty"`
	ProbeLoadMS int64 `json:"probe_load_ms,omitempty"`
	AttachMS    int64 `json:"attach_ms,omitempty"`
	CasesMS     int64 `json:"cases_ms,omitempty"`
	// SetupMS is the agent's start to its first case (BTF and kallsyms
	// included, KallsymsMS); CaseLoadMS the programs loaded inside the
	// case loop (part of ProbeLoadMS and of CasesMS).
	SetupMS    int64 `json:"setup_ms,omitempty"`
	KallsymsMS int64 `json:"kallsyms_ms,omitempty"`
	CaseLoadMS int64 `json:"case_load_ms,omitempty"`
}

// How a guest came up (Cell.Start).
const (
	StartBooted   = "booted"
	StartRestored = "restored"
)

// Cell is one target's run.
type Cell struct {
	Target string `json:"target"`
	Arch   string `json:"arch"`
	Kernel Kernel `json:"kernel"`
	Accel  string `json:"accel"`
	// Start says how the guest came up: booted, or restored from the
	// kernel's saved guest; StartNote why it was booted where it would
	// have been restored (a restore that failed).
	Start     string  `json:"start,omitempty"`
	StartNote string  `json:"start_note,omitempty"`
	Outcome   Outcome `json:"outcome"`
	// Reason says why the outcome is what it is, in one line.
	Reason  string   `json:"reason,omitempty"`
	Timings Timings  `json:"timings"`
	Wrapper *Wrapper `json:"wrapper,omitempty"`
	Cases   []Case   `json:"cases"`
	// ConsoleLog is the path of the full console log, relative to the
	// output directory.
	ConsoleLog string `json:"console_log,omitempty"`
	// ConsoleTail holds the last console lines when the outcome is not
	// pass or fail: the evidence of a crash, hang or boot failure.
	ConsoleTail []string `json:"console_tail,omitempty"`
	// Builds are the users' collections made for this target, with
	// what the compiler said.
	Builds []Build `json:"builds,omitempty"`
	// Collections say how each collection loaded in the guest.
	Collections []CollectionLoad `json:"collections,omitempty"`
	// Notes say what of the config the target cannot run, and why (a
	// loader Debian does not ship for its arch).
	Notes []string `json:"notes,omitempty"`
}

// Build is a user's collection as made for one target: compiled from its
// source, or a prebuilt object.
type Build struct {
	Collection string `json:"collection"`
	Source     string `json:"source,omitempty"`
	Object     string `json:"object"`
	Compiler   string `json:"compiler,omitempty"`
	Cached     bool   `json:"cached,omitempty"`
	// Warnings are what the compiler printed, never silenced.
	Warnings string `json:"warnings,omitempty"`
	// VmlinuxH is the vmlinux.h dumped from the target kernel's BTF, when
	// the source includes one.
	VmlinuxH string `json:"vmlinux_h,omitempty"`
	// Error is, for a source that does not build, its first error in one
	// line, and Output the compiler's whole output.
	Error  string `json:"error,omitempty"`
	Output string `json:"output,omitempty"`
}

// CaseLoader is how a user's case's collection was loaded: by which
// loader (and version), the LINUX_HAS_SYSCALL_WRAPPER it resolved (nil:
// none read back, the collection did not load), who resolved it, and the
// kernel function its probe attached to, as the kernel lists it.
type CaseLoader struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	Wrapper    *int   `json:"wrapper,omitempty"`
	ResolvedBy string `json:"resolved_by,omitempty"`
	Attached   string `json:"attached,omitempty"`
}

// CollectionLoad is how a collection loaded in the guest.
type CollectionLoad struct {
	Name       string   `json:"name"`
	Programs   []string `json:"programs,omitempty"`
	LoadMillis int64    `json:"load_ms"`
	Error      string   `json:"error,omitempty"`
	// Loader loaded it (cilium/ebpf, ksystest), at LoaderVersion; Wrapper
	// is the LINUX_HAS_SYSCALL_WRAPPER it resolved, read back from the
	// loaded programs, and ResolvedBy who resolved it.
	Loader        string `json:"loader,omitempty"`
	LoaderVersion string `json:"loader_version,omitempty"`
	Wrapper       *int   `json:"wrapper,omitempty"`
	ResolvedBy    string `json:"resolved_by,omitempty"`
}

// Run is a whole matrix run: results.json.
type Run struct {
	Schema int    `json:"schema"`
	Matrix string `json:"matrix"`
	// Targets are all of the matrix's targets in its order (a shard runs
	// some of them); merging restores this order.
	Targets []string `json:"targets,omitempty"`
	// Shard is "K/N" for a sharded run.
	Shard   string    `json:"shard,omitempty"`
	Started time.Time `json:"started"`
	WallSec float64   `json:"wall_sec"`
	Cells   []Cell    `json:"cells"`
	// Quirks is QuirkTable(Cells), kept in results.json for readers that
	// do not recompute it.
	Quirks []QuirkRow `json:"quirks,omitempty"`
}

// ExitCode maps a run to ksystest's exit code: 0 every cell passed, 1 a
// finding (fail, crash, timeout), 2 a configuration error, 3 an
// infrastructure problem. A finding outranks the others, since it is news
// about a kernel; a configuration error outranks infrastructure, since
// only its owner can mend it.
func (r *Run) ExitCode() int {
	code := 0
	rank := map[int]int{0: 0, 3: 1, 2: 2, 1: 3}
	for _, c := range r.Cells {
		cc := 1
		switch {
		case c.Outcome == OutcomePass:
			cc = 0
		case c.Outcome == OutcomeConfigError:
			cc = 2
		case c.Outcome.IsInfra():
			cc = 3
		}
		if rank[cc] > rank[code] {
			code = cc
		}
	}
	return code
}
