/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ksystest.h: report what a probe saw to ksystest through its ring buffer.
 *
 * Optional: ksystest also reads what your programs store in global
 * variables or maps (see the README, "Test your own probes"). Include it
 * after your kernel types (vmlinux.h, or your own header defining the
 * __u8..__u64 types) and <bpf/bpf_helpers.h>:
 *
 *	SEC("ksyscall/prctl")
 *	int BPF_KSYSCALL(my_prctl, int option, unsigned long arg2)
 *	{
 *		return ksystest_emit(2, option, arg2, 0, 0, 0, 0);
 *	}
 *
 * ksystest_emit reports only calls from the thread making the case's call
 * (the agent sets it in ksystest_target before each case), so nothing else
 * in the guest adds noise. ksystest_emit_set tags the report with a capture
 * set number, for programs that report several readings of one call.
 *
 * Kernels before 5.8 have no BPF ring buffers. ksystest_emit_ctx and
 * ksystest_emit_set_ctx take the program's context and report on those
 * too, through a perf event array; ksystest_emit and ksystest_emit_set
 * need the ring buffer:
 *
 *		return ksystest_emit_ctx(ctx, 2, option, arg2, 0, 0, 0, 0);
 */
#ifndef KSYSTEST_H
#define KSYSTEST_H

#include <bpf/bpf_core_read.h>

#define KSYSTEST_MAX_ARGS 6

/* What a probe (KSYSTEST_KIND_PROBE) or the syscall tracepoint
 * (KSYSTEST_KIND_ORACLE, ksystest's own) saw. */
enum {
	KSYSTEST_KIND_PROBE = 0,
	KSYSTEST_KIND_ORACLE = 1,
};

/* One report. The layout is ksystest's wire format: do not change it. */
struct ksystest_event {
	__u32 tid;
	__u16 kind;
	__u8 nargs;
	__u8 set;
	__u64 args[KSYSTEST_MAX_ARGS];
	__u64 nr;				/* KIND_ORACLE: the syscall number */
	__u64 deref[KSYSTEST_MAX_ARGS];	/* KIND_ORACLE: words an argument points to */
};

/*
 * Where reports go: a ring buffer (BPF_MAP_TYPE_RINGBUF, by number, so
 * that a vmlinux.h of a kernel without ring buffers compiles it). Where
 * the kernel has none, ksystest's loader makes it a perf event array, one
 * buffer per CPU; other loaders leave it as it is, and such a kernel
 * refuses to create it.
 */
struct {
	__uint(type, 27 /* BPF_MAP_TYPE_RINGBUF */);
	__uint(max_entries, 1 << 18);
} ksystest_events SEC(".maps");

/*
 * Whose calls to report, set by the agent (a map, not a constant, so it
 * can change between cases): key 0 holds the thread making a case's call.
 * While a workload runs, key 0 is 0 and key 1 holds the agent's own
 * process, and every other task's calls are reported.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} ksystest_target SEC(".maps");

/* ksystest_wanted reports whether the current task's calls are reported. */
static __always_inline int ksystest_wanted(void)
{
	__u32 zero = 0, one = 1, *tid, *agent;
	__u64 id = bpf_get_current_pid_tgid();

	tid = bpf_map_lookup_elem(&ksystest_target, &zero);
	if (!tid)
		return 0;
	if (*tid)
		return (__u32)id == *tid;
	agent = bpf_map_lookup_elem(&ksystest_target, &one);
	return agent && *agent && (__u32)(id >> 32) != *agent;
}

/* ksystest_workload reports whether a workload runs (key 0 is 0, key 1 set). */
static __always_inline int ksystest_workload(void)
{
	__u32 zero = 0, one = 1, *tid, *agent;

	tid = bpf_map_lookup_elem(&ksystest_target, &zero);
	agent = bpf_map_lookup_elem(&ksystest_target, &one);
	return tid && agent && !*tid && *agent;
}

static __always_inline struct ksystest_event *ksystest_reserve(void)
{
	if (!ksystest_wanted())
		return 0;
	return bpf_ringbuf_reserve(&ksystest_events, sizeof(struct ksystest_event), 0);
}

/* ksystest_probe_event fills e with a probe's report of the current call. */
static __always_inline void ksystest_probe_event(struct ksystest_event *e, __u8 set, __u8 nargs,
						 __u64 a0, __u64 a1, __u64 a2, __u64 a3,
						 __u64 a4, __u64 a5)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->kind = KSYSTEST_KIND_PROBE;
	e->nargs = nargs;
	e->set = set;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	e->args[3] = a3;
	e->args[4] = a4;
	e->args[5] = a5;
}

static __always_inline int ksystest_emit_set(__u8 set, __u8 nargs, __u64 a0, __u64 a1,
					     __u64 a2, __u64 a3, __u64 a4, __u64 a5)
{
	struct ksystest_event *e = ksystest_reserve();

	if (!e)
		return 0;
	ksystest_probe_event(e, set, nargs, a0, a1, a2, a3, a4, a5);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int ksystest_emit(__u8 nargs, __u64 a0, __u64 a1, __u64 a2,
					 __u64 a3, __u64 a4, __u64 a5)
{
	return ksystest_emit_set(0, nargs, a0, a1, a2, a3, a4, a5);
}

/*
 * The kernel's enum bpf_func_id, with only the helper asked about, under a
 * flavour of its own name: CO-RE looks BPF_FUNC_ringbuf_output up in the
 * running kernel's BTF, whatever vmlinux.h the program was compiled with.
 */
enum bpf_func_id___ksystest {
	BPF_FUNC_ringbuf_output___ksystest = 130,
};

/*
 * ksystest_submit reports e through the ring buffer where the kernel has
 * bpf_ringbuf_output (5.8), else through the perf event array ksystest's
 * loader made of ksystest_events, into the current CPU's buffer (the one
 * CPU of ksystest's guests: one stream, in order). Which is settled at
 * load: the other branch never runs, and the verifier skips it.
 */
static __always_inline void ksystest_submit(void *ctx, struct ksystest_event *e)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id___ksystest, BPF_FUNC_ringbuf_output___ksystest))
		bpf_ringbuf_output(&ksystest_events, e, sizeof(*e), 0);
	else
		bpf_perf_event_output(ctx, &ksystest_events, 0xffffffffULL /* BPF_F_CURRENT_CPU */,
				      e, sizeof(*e));
}

/* ksystest_emit_set, on every kernel: ctx is the program's context. */
static __always_inline int ksystest_emit_set_ctx(void *ctx, __u8 set, __u8 nargs, __u64 a0,
						 __u64 a1, __u64 a2, __u64 a3, __u64 a4,
						 __u64 a5)
{
	struct ksystest_event e;

	if (!ksystest_wanted())
		return 0;
	ksystest_probe_event(&e, set, nargs, a0, a1, a2, a3, a4, a5);
	ksystest_submit(ctx, &e);
	return 0;
}

/* ksystest_emit, on every kernel: ctx is the program's context. */
static __always_inline int ksystest_emit_ctx(void *ctx, __u8 nargs, __u64 a0, __u64 a1,
					     __u64 a2, __u64 a3, __u64 a4, __u64 a5)
{
	return ksystest_emit_set_ctx(ctx, 0, nargs, a0, a1, a2, a3, a4, a5);
}

#endif /* KSYSTEST_H */
