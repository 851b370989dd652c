// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Syscall probes written the way users write them: SEC("ksyscall/NAME") and
 * BPF_KSYSCALL. Each sends the arguments it sees to the ring buffer, but only
 * for calls from the agent's trigger thread, so the rest of the guest cannot
 * add noise.
 *
 * To add a probe: write a function here, regenerate (make generate), and
 * name it as `probe:` in a case of bpf/cases.yaml.
 */
#include "ksys_regs.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_ARGS 6

struct event {
	__u32 tid;
	__u32 nargs;
	__u64 args[MAX_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

/* Set by the agent before loading: the thread that issues the syscalls. */
volatile const __u32 target_tid = 0;

static __always_inline int emit(__u32 nargs, __u64 a0, __u64 a1, __u64 a2,
				__u64 a3, __u64 a4, __u64 a5)
{
	struct event *e;

	if ((__u32)bpf_get_current_pid_tgid() != target_tid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->tid = target_tid;
	e->nargs = nargs;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	e->args[3] = a3;
	e->args[4] = a4;
	e->args[5] = a5;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("ksyscall/write")
int BPF_KSYSCALL(ksys_write, unsigned long fd, unsigned long buf,
		 unsigned long count)
{
	return emit(3, fd, buf, count, 0, 0, 0);
}

SEC("ksyscall/prctl")
int BPF_KSYSCALL(ksys_prctl, unsigned long option, unsigned long arg2,
		 unsigned long arg3, unsigned long arg4, unsigned long arg5)
{
	return emit(5, option, arg2, arg3, arg4, arg5, 0);
}

/* Six arguments: the 4th is r10 on x86_64, the 6th gprs[7] on s390x. */
SEC("ksyscall/splice")
int BPF_KSYSCALL(ksys_splice, unsigned long fd_in, unsigned long off_in,
		 unsigned long fd_out, unsigned long off_out, unsigned long len,
		 unsigned long flags)
{
	return emit(6, fd_in, off_in, fd_out, off_out, len, flags);
}

/*
 * A deliberately wrong probe, for proving that ksystest catches one: it
 * reads the syscall's saved registers with the function-call convention
 * (PT_REGS_PARMn_CORE) instead of the syscall one. That reads rcx for the
 * 4th argument on x86_64 (the syscall instruction leaves the return address
 * there; the argument is in r10) and gprs[2] for the 1st on s390x (the
 * argument is in orig_gpr2). It assumes the syscall wrapper.
 * Used by harness/run's VM tests through testdata/wrong-probe.yaml.
 */
SEC("ksyscall/splice")
int BPF_KPROBE(wrong_splice)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);

	return emit(6, PT_REGS_PARM1_CORE(regs), PT_REGS_PARM2_CORE(regs),
		    PT_REGS_PARM3_CORE(regs), PT_REGS_PARM4_CORE(regs),
		    PT_REGS_PARM5_CORE(regs), 0);
}
