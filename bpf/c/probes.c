// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Syscall probes written the way users write them: SEC("ksyscall/NAME") and
 * BPF_KSYSCALL. Each sends the arguments it sees to ksystest's ring buffer
 * (ksystest.h, the header users can include too), but only for calls from
 * the thread making the case's call, so the rest of the guest cannot add
 * noise.
 *
 * To add a probe: write a function here, regenerate (make generate), and
 * name it as `probe:` in a case of bpf/cases.yaml.
 */
#include "ksys_regs.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "ksystest.h"

#define emit ksystest_emit

#if defined(__TARGET_ARCH_arm)
/*
 * BPF_KSYSCALL's wrapper branch casts PT_REGS_PARM1, 32 bits here, to a
 * pointer. 32-bit arm never selects the syscall wrapper, so that branch is
 * dead on every arm kernel and the cast is harmless in this file. Users'
 * sources are compiled with every warning on.
 */
#pragma clang diagnostic ignored "-Wint-to-pointer-cast"
#endif

/*
 * The second oracle: the kernel's raw_syscalls/sys_enter tracepoint sees
 * the number and the six argument registers as the syscall entry code
 * decoded them (orig_gpr2, orig_x0, r10 and all), independent of any
 * probe's pt_regs reading. The agent compares it with what it passed.
 */
#if defined(__TARGET_ARCH_arm)
struct trace_event_raw_sys_enter {
	__s32 id;
	__u32 args[6];
} __attribute__((preserve_access_index));
#else
struct trace_event_raw_sys_enter {
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));
#endif

/*
 * Where a call passes its arguments in user memory (socketcall's array,
 * s390x's old_mmap struct), the agent names the syscall here and the
 * oracle copies the words argument ARG points to, as the kernel will read
 * them.
 */
struct oracle_deref {
	__u8 arg;
	__u8 words;
	__u8 wordsize;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct oracle_deref);
} ksystest_oracle_deref SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int oracle_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct ksystest_event *e;
	struct oracle_deref *d;
	__u32 nr32, narrow[KSYSTEST_MAX_ARGS];
	int i;

	e = ksystest_reserve();
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->kind = KSYSTEST_KIND_ORACLE;
	e->nargs = 6;
	e->nr = (__u64)ctx->id;
	/* Spelled out: the verifier refuses a ctx pointer moved by a loop. */
	e->args[0] = ctx->args[0];
	e->args[1] = ctx->args[1];
	e->args[2] = ctx->args[2];
	e->args[3] = ctx->args[3];
	e->args[4] = ctx->args[4];
	e->args[5] = ctx->args[5];
	nr32 = (__u32)ctx->id;
	d = bpf_map_lookup_elem(&ksystest_oracle_deref, &nr32);
	if (d && d->arg < 6 && d->words <= KSYSTEST_MAX_ARGS) {
		const void *p = (const void *)(unsigned long)e->args[d->arg & 7];

		if (d->wordsize == 8) {
			bpf_probe_read_user(e->deref, sizeof(e->deref), p);
		} else if (d->wordsize == 4) {
			__builtin_memset(narrow, 0, sizeof(narrow));
			bpf_probe_read_user(narrow, sizeof(narrow), p);
			for (i = 0; i < KSYSTEST_MAX_ARGS; i++)
				e->deref[i] = narrow[i];
		}
	}
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
 * ---- Quirks ------------------------------------------------------------
 *
 * For each place where BPF_KSYSCALL does not give the real arguments
 * (libbpf's own list: old mmap, clone orders, socketcall, compat), a naive
 * probe written with the x86_64 signature, the way users first write it,
 * and an aware probe that recovers the real arguments on every arch. The
 * catalogue (bpf/cases.yaml) says, per arch, how the naive probe goes wrong.
 * A probe may be several programs: NAME and NAME__SUFFIX are attached
 * together.
 */

/* mmap(addr, len, prot, flags, fd, off) */
SEC("ksyscall/mmap")
int BPF_KSYSCALL(naive_mmap, unsigned long addr, unsigned long len,
		 unsigned long prot, unsigned long flags, unsigned long fd,
		 unsigned long off)
{
	return emit(6, addr, len, prot, flags, fd, off);
}

#if defined(__TARGET_ARCH_s390)
/*
 * s390x's mmap is syscall 90, old_mmap: one pointer to six longs in user
 * memory (__ARCH_WANT_SYS_OLD_MMAP). There is no sys_mmap to attach to.
 */
struct mmap_arg_struct {
	unsigned long addr, len, prot, flags, fd, offset;
};

/*
 * The author who found that s390x's mmap is old_mmap, and attached there
 * with the six-argument signature: argument 1 is the struct's address.
 */
SEC("ksyscall/old_mmap")
int BPF_KSYSCALL(naive_old_mmap, unsigned long addr, unsigned long len,
		 unsigned long prot, unsigned long flags, unsigned long fd,
		 unsigned long off)
{
	return emit(6, addr, len, prot, flags, fd, off);
}

SEC("ksyscall/old_mmap")
int BPF_KSYSCALL(aware_mmap, struct mmap_arg_struct *uargs)
{
	struct mmap_arg_struct a = {};

	if (bpf_probe_read_user(&a, sizeof(a), uargs))
		return 0;
	return emit(6, a.addr, a.len, a.prot, a.flags, a.fd, a.offset);
}
#elif defined(__TARGET_ARCH_arm)
/*
 * 32-bit arm has no mmap for EABI programs, only mmap2 (offset in pages),
 * whose entry stub branches to sys_mmap_pgoff with the registers intact.
 */
SEC("ksyscall/mmap_pgoff")
int BPF_KSYSCALL(aware_mmap, unsigned long addr, unsigned long len,
		 unsigned long prot, unsigned long flags, unsigned long fd,
		 unsigned long pgoff)
{
	return emit(6, addr, len, prot, flags, fd, (__u64)pgoff << 12);
}
#else
SEC("ksyscall/mmap")
int BPF_KSYSCALL(aware_mmap, unsigned long addr, unsigned long len,
		 unsigned long prot, unsigned long flags, unsigned long fd,
		 unsigned long off)
{
	return emit(6, addr, len, prot, flags, fd, off);
}
#endif

/* clone(flags, newsp, parent_tid, child_tid, tls): the x86_64 order. */
SEC("ksyscall/clone")
int BPF_KSYSCALL(naive_clone, unsigned long flags, unsigned long newsp,
		 unsigned long ptid, unsigned long ctid, unsigned long tls)
{
	return emit(5, flags, newsp, ptid, ctid, tls, 0);
}

/*
 * The aware probe emits the arguments in the x86_64 order whatever the
 * kernel's register order, which kernel/fork.c picks by config: s390 is
 * CONFIG_CLONE_BACKWARDS2 (newsp first); arm, arm64, i386 (and mips,
 * powerpc, riscv) are CONFIG_CLONE_BACKWARDS (tls before child_tid);
 * x86_64 is neither. One x86 object serves x86_64 and i386 kernels (as
 * bpf2go builds it for GOARCH amd64 and 386), so it asks CO-RE whether
 * the kernel's pt_regs has r10, which only x86_64's has.
 */
#if defined(__TARGET_ARCH_s390)
#define CLONE_BACKWARDS2() 1
#define CLONE_BACKWARDS() 0
#elif defined(__TARGET_ARCH_x86)
#define CLONE_BACKWARDS2() 0
#define CLONE_BACKWARDS() (!bpf_core_field_exists(((struct pt_regs *)0)->r10))
#else
#define CLONE_BACKWARDS2() 0
#define CLONE_BACKWARDS() 1
#endif

SEC("ksyscall/clone")
int BPF_KSYSCALL(aware_clone, unsigned long r1, unsigned long r2,
		 unsigned long r3, unsigned long r4, unsigned long r5)
{
	if (CLONE_BACKWARDS2())
		return emit(5, r2, r1, r3, r4, r5, 0);
	if (CLONE_BACKWARDS())
		return emit(5, r1, r2, r3, r5, r4, 0);
	return emit(5, r1, r2, r3, r4, r5, 0);
}

/*
 * connect(fd, uservaddr, addrlen). The 4th value is the first 8 bytes of
 * the sockaddr (family, port, address), read from user memory as a careful
 * probe would.
 */
static __always_inline int emit_connect(unsigned long fd, const void *sa,
					unsigned long len)
{
	__u64 head = 0;

	bpf_probe_read_user(&head, sizeof(head), sa);
	return emit(4, fd, (unsigned long)sa, len, head, 0, 0);
}

SEC("ksyscall/connect")
int BPF_KSYSCALL(naive_connect, unsigned long fd, void *uservaddr,
		 unsigned long addrlen)
{
	return emit_connect(fd, uservaddr, addrlen);
}

SEC("ksyscall/connect")
int BPF_KSYSCALL(aware_connect, unsigned long fd, void *uservaddr,
		 unsigned long addrlen)
{
	return emit_connect(fd, uservaddr, addrlen);
}

/*
 * Where the ABI has socketcall (s390x; i386), user space may reach connect
 * through socketcall(SYS_CONNECT, args*) instead: Go's syscall package and
 * net do on s390x. The aware probe decodes that path too.
 */
#define SYS_CONNECT 3

SEC("ksyscall/socketcall")
int BPF_KSYSCALL(aware_connect__socketcall, int call, unsigned long *uargs)
{
	unsigned long a[3] = {};

	if (call != SYS_CONNECT)
		return 0;
	if (bpf_probe_read_user(a, sizeof(a), uargs))
		return 0;
	return emit_connect(a[0], (const void *)a[1], a[2]);
}

/*
 * Compat: 32-bit programs on 64-bit kernels. ksyscall/ attaches only the
 * native entry points. On x86_64, i386 tasks enter __ia32_sys_* with their
 * arguments in bx, cx, dx, si, di, bp, and clone through the compat
 * ia32_clone, which takes CLONE_BACKWARDS order (tls before child_tid).
 * On arm64, AArch32 tasks enter the native __arm64_sys_* wrappers with
 * arguments in x0..x5, and clone goes to the native sys_clone. Either way
 * the program passed clone's arguments in CLONE_BACKWARDS order, and that
 * is what the aware probe decodes.
 */
#if defined(__TARGET_ARCH_x86)
#define COMPAT_ARG(regs, n) \
	((n) == 0 ? BPF_CORE_READ(regs, bx) : (n) == 1 ? BPF_CORE_READ(regs, cx) : \
	 (n) == 2 ? BPF_CORE_READ(regs, dx) : (n) == 3 ? BPF_CORE_READ(regs, si) : \
	 BPF_CORE_READ(regs, di))
#define COMPAT_WRITE "kprobe/__ia32_sys_write"
#define COMPAT_PRCTL "kprobe/__ia32_sys_prctl"
#define COMPAT_CLONE "kprobe/__ia32_compat_sys_ia32_clone"
#define COMPAT_CLONE_BACKWARDS 1
#elif defined(__TARGET_ARCH_arm64)
#define COMPAT_ARG(regs, n) \
	((n) == 0 ? BPF_CORE_READ((struct pt_regs___arm64 *)(regs), orig_x0) : \
	 BPF_CORE_READ((struct user_pt_regs *)(regs), regs[n]))
#define COMPAT_WRITE "kprobe/__arm64_sys_write"
#define COMPAT_PRCTL "kprobe/__arm64_sys_prctl"
#define COMPAT_CLONE "kprobe/__arm64_sys_clone"
/* The AArch32 ABI and arm64's sys_clone are both CONFIG_CLONE_BACKWARDS. */
#define COMPAT_CLONE_BACKWARDS 1
#endif

#ifdef COMPAT_ARG
/* Compat arguments are 32 bits wide whatever the register holds. */
#define CARG(regs, n) ((__u64)(__u32)COMPAT_ARG(regs, n))

SEC(COMPAT_WRITE)
int BPF_KPROBE(compat_write)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);

	return emit(3, CARG(regs, 0), CARG(regs, 1), CARG(regs, 2), 0, 0, 0);
}

SEC(COMPAT_PRCTL)
int BPF_KPROBE(compat_prctl)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);

	return emit(5, CARG(regs, 0), CARG(regs, 1), CARG(regs, 2),
		    CARG(regs, 3), CARG(regs, 4), 0);
}

SEC(COMPAT_CLONE)
int BPF_KPROBE(compat_clone)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);

	if (COMPAT_CLONE_BACKWARDS)
		return emit(5, CARG(regs, 0), CARG(regs, 1), CARG(regs, 2),
			    CARG(regs, 4), CARG(regs, 3), 0);
	return emit(5, CARG(regs, 0), CARG(regs, 1), CARG(regs, 2),
		    CARG(regs, 3), CARG(regs, 4), 0);
}
#endif

/*
 * A deliberately wrong probe, for proving that ksystest catches one: it
 * reads the syscall's saved registers with the function-call convention
 * (PT_REGS_PARMn_CORE) instead of the syscall one. That reads rcx for the
 * 4th argument on x86_64 (the syscall instruction leaves the return address
 * there; the argument is in r10) and gprs[2] for the 1st on s390x (the
 * argument is in orig_gpr2). It assumes the syscall wrapper.
 * Used by harness/run's VM tests through testdata/wrong-probe.yaml. Not
 * on 32-bit arm, whose function calls pass only four arguments in
 * registers.
 */
#if !defined(__TARGET_ARCH_arm)
SEC("ksyscall/splice")
int BPF_KPROBE(wrong_splice)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);

	return emit(6, PT_REGS_PARM1_CORE(regs), PT_REGS_PARM2_CORE(regs),
		    PT_REGS_PARM3_CORE(regs), PT_REGS_PARM4_CORE(regs),
		    PT_REGS_PARM5_CORE(regs), 0);
}
#endif
