// SPDX-License-Identifier: GPL-2.0
/*
 * A project's syscall probes, written the way the kernel's own BPF
 * selftests write them (progs/bpf_syscall_macro.c): a kprobe that finds
 * the syscall's registers and reads them two ways, and BPF_KSYSCALL
 * probes, all storing what they saw in globals, for one process only.
 * ksystest checks every reading on every arch (ksystest.yaml).
 */
#include "regs.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* What the kprobe read with PT_REGS_PARMn_SYSCALL. */
int arg1 = 0;
unsigned long arg2 = 0;
unsigned long arg3 = 0;
unsigned long arg4_cx = 0;
unsigned long arg4 = 0;
unsigned long arg5 = 0;

/* ... with PT_REGS_PARMn_CORE_SYSCALL. */
int arg1_core = 0;
unsigned long arg2_core = 0;
unsigned long arg3_core = 0;
unsigned long arg4_core_cx = 0;
unsigned long arg4_core = 0;
unsigned long arg5_core = 0;

/* ... and what BPF_KSYSCALL handed over. */
int option_syscall = 0;
unsigned long arg2_syscall = 0;
unsigned long arg3_syscall = 0;
unsigned long arg4_syscall = 0;
unsigned long arg5_syscall = 0;

/* Set before loading, to the process making the calls. */
const volatile pid_t filter_pid = 0;

extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;

/*
 * Read a register at its own width: on 32-bit arm it is 4 bytes, and
 * sizeof(dst) (8 for an unsigned long in BPF) would read two registers.
 * (+ 0 drops the const of libbpf's casts: a const the compiler thinks
 * nothing writes reads back as 0.)
 */
#define READ_REG(dst, reg)						\
	({								\
		typeof((reg) + 0) __v = 0;				\
		bpf_probe_read_kernel(&__v, sizeof(__v), &(reg));	\
		(dst) = __v;						\
	})

SEC("ksyscall/prctl")
int BPF_KPROBE(handle_sys_prctl)
{
	struct pt_regs *real_regs;
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	unsigned long tmp = 0;

	if (pid != filter_pid)
		return 0;

	/*
	 * With the syscall wrapper the registers are behind the first
	 * argument; without it (32-bit arm, mips) ctx holds them. Debian's
	 * ppc64el kernels have the wrapper, but cilium/ebpf and libbpf both
	 * conclude powerpc has none (ksystest showed it), so ask no one there.
	 * 32-bit arm never has it (and its 4-byte PARM1 would not cast to a
	 * pointer without a warning).
	 */
#if defined(bpf_target_powerpc)
	real_regs = (struct pt_regs *)PT_REGS_PARM1(ctx);
#elif defined(bpf_target_arm)
	real_regs = ctx;
#else
	real_regs = LINUX_HAS_SYSCALL_WRAPPER ? PT_REGS_SYSCALL_REGS(ctx) : ctx;
#endif

#if !defined(bpf_target_arm64) && !defined(bpf_target_s390)
	/* arm64 and s390x keep the first argument outside user_pt_regs. */
	READ_REG(tmp, PT_REGS_PARM1_SYSCALL(real_regs));
#endif
	arg1 = tmp;
	READ_REG(arg2, PT_REGS_PARM2_SYSCALL(real_regs));
	READ_REG(arg3, PT_REGS_PARM3_SYSCALL(real_regs));
	READ_REG(arg4_cx, PT_REGS_PARM4(real_regs));
	READ_REG(arg4, PT_REGS_PARM4_SYSCALL(real_regs));
	READ_REG(arg5, PT_REGS_PARM5_SYSCALL(real_regs));

	arg1_core = PT_REGS_PARM1_CORE_SYSCALL(real_regs);
	arg2_core = PT_REGS_PARM2_CORE_SYSCALL(real_regs);
	arg3_core = PT_REGS_PARM3_CORE_SYSCALL(real_regs);
	arg4_core_cx = PT_REGS_PARM4_CORE(real_regs);
	arg4_core = PT_REGS_PARM4_CORE_SYSCALL(real_regs);
	arg5_core = PT_REGS_PARM5_CORE_SYSCALL(real_regs);
	return 0;
}

/*
 * On 32-bit arm, libbpf's BPF_KSYSCALL casts the 4-byte first register to
 * a pointer and clang warns (-Wint-to-pointer-cast), once per probe. The
 * cast sits on the wrapper's branch, which never runs there (no wrapper on
 * arm): ksystest shows the warning, it does not silence it.
 */
SEC("ksyscall/prctl")
int BPF_KSYSCALL(prctl_enter, int option, unsigned long arg2,
		 unsigned long arg3, unsigned long arg4, unsigned long arg5)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != filter_pid)
		return 0;

	option_syscall = option;
	arg2_syscall = arg2;
	arg3_syscall = arg3;
	arg4_syscall = arg4;
	arg5_syscall = arg5;
	return 0;
}

__u64 splice_fd_in;
__u64 splice_off_in;
__u64 splice_fd_out;
__u64 splice_off_out;
__u64 splice_len;
__u64 splice_flags;

SEC("ksyscall/splice")
int BPF_KSYSCALL(splice_enter, int fd_in, long *off_in, int fd_out,
		 long *off_out, unsigned long len, unsigned int flags)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != filter_pid)
		return 0;

	splice_fd_in = fd_in;
	splice_off_in = (__u64)off_in;
	splice_fd_out = fd_out;
	splice_off_out = (__u64)off_out;
	splice_len = len;
	splice_flags = flags;
	return 0;
}

char _license[] SEC("license") = "GPL";
