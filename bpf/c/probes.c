// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Syscall probes written the way users write them: SEC("ksyscall/NAME") and
 * BPF_KSYSCALL. Each sends the arguments it sees to ksystest's ring buffer,
 * or its perf event array on kernels without ring buffers (ksystest.h, the
 * header users can include too), but only for calls from the thread making
 * the case's call, so the rest of the guest cannot add noise.
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

/* Every program here names its context ctx, as BPF_KSYSCALL's does. */
#define emit(...) ksystest_emit_ctx(ctx, __VA_ARGS__)

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
struct trace_event_raw_sys_enter {
	long id;
	unsigned long args[6];
} __attribute__((preserve_access_index));

/*
 * A 32-bit kernel's record: its longs are 4 bytes, and a tracepoint's
 * context must be read at its own width. 32-bit arm always reads this
 * one; the x86 object (x86_64 and i386 kernels) picks one with CO-RE.
 */
struct trace_event_raw_sys_enter___32 {
	__s32 id;
	__u32 args[6];
} __attribute__((preserve_access_index));

#if defined(__TARGET_ARCH_arm)
#define KERNEL_32() 1
#elif defined(__TARGET_ARCH_x86)
#define KERNEL_32() (!bpf_core_field_exists(((struct pt_regs *)0)->r10))
#else
#define KERNEL_32() 0
#endif

/*
 * Where a call passes its arguments in user memory (socketcall's array,
 * s390x's old_mmap struct), the agent names the syscall here and the
 * oracle copies the words argument ARG points to, as the kernel will read
 * them. While a workload runs, the oracle records only the syscalls named
 * here (WORDS 0: nothing to read through), so a busy program cannot fill
 * the ring with calls no probe watches.
 */
struct oracle_deref {
	__u8 arg;
	__u8 words;
	__u8 wordsize;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct oracle_deref);
} ksystest_oracle_deref SEC(".maps");

/*
 * While a workload of a user's tool runs, the oracle also copies what a
 * watched call's arguments point to, as the call passed it: the string
 * register ARG points to (KIND 1), or as many bytes as register LEN holds
 * (KIND 2: a socket address), at most KSYSTEST_CONTENT_MAX - 1. Each copy
 * is a record of its own, right after the call's: struct
 * oracle_content_record, kind KSYSTEST_KIND_CONTENT (the agent's
 * decodeEvent reads it).
 */
#define KSYSTEST_KIND_CONTENT 2
#define KSYSTEST_CONTENT_MAX 256
#define CONTENT_STRING 1
#define CONTENT_BYTES 2

struct oracle_content_spec {
	__u8 arg;
	__u8 kind;
	__u8 len;
	__u8 pad;
};

struct oracle_content {
	__u8 n;
	__u8 pad[3];
	struct oracle_content_spec c[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct oracle_content);
} ksystest_oracle_content SEC(".maps");

struct oracle_content_record {
	__u32 tid;
	__u16 kind;
	__u8 arg;
	__u8 pad;
	__s32 len;	/* bytes copied (a string's NUL included), or -errno */
	__u32 pad2;
	__u8 data[KSYSTEST_CONTENT_MAX];
};

/* Too big for the stack beside the call's record: one per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct oracle_content_record);
} ksystest_oracle_scratch SEC(".maps");

static __always_inline void oracle_copy(void *ctx, struct ksystest_event *e, struct oracle_content_spec s)
{
	struct oracle_content_record *r;
	const void *p = 0;
	__u64 n = 0;
	__u32 zero = 0;
	int i;

	r = bpf_map_lookup_elem(&ksystest_oracle_scratch, &zero);
	if (!r)
		return;
	for (i = 0; i < KSYSTEST_MAX_ARGS; i++) {
		if (i == s.arg)
			p = (const void *)(unsigned long)e->args[i];
		if (i == s.len)
			n = e->args[i];
	}
	r->tid = e->tid;
	r->kind = KSYSTEST_KIND_CONTENT;
	r->arg = s.arg;
	r->pad = 0;
	r->pad2 = 0;
	if (s.kind == CONTENT_STRING) {
		r->len = bpf_probe_read_user_str(r->data, sizeof(r->data), p);
	} else {
		/* A socket address's length is an int: what the kernel reads. */
		if ((__s32)n < 0)
			n = 0;
		if (n > KSYSTEST_CONTENT_MAX - 1)
			n = KSYSTEST_CONTENT_MAX - 1;
		n &= KSYSTEST_CONTENT_MAX - 1;
		r->len = n;
		if (n && bpf_probe_read_user(r->data, n, p))
			r->len = -14; /* EFAULT */
	}
	if (bpf_core_enum_value_exists(enum bpf_func_id___ksystest, BPF_FUNC_ringbuf_output___ksystest))
		bpf_ringbuf_output(&ksystest_events, r, sizeof(*r), 0);
	else
		bpf_perf_event_output(ctx, &ksystest_events, 0xffffffffULL /* BPF_F_CURRENT_CPU */,
				      r, sizeof(*r));
}

SEC("tracepoint/raw_syscalls/sys_enter")
int oracle_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct ksystest_event ev, *e = &ev;
	struct oracle_content *c;
	struct oracle_deref *d;
	__u32 nr32, narrow[KSYSTEST_MAX_ARGS];
	int i;

	nr32 = KERNEL_32() ? (__u32)((struct trace_event_raw_sys_enter___32 *)ctx)->id : (__u32)ctx->id;
	d = bpf_map_lookup_elem(&ksystest_oracle_deref, &nr32);
	if (!d && ksystest_workload())
		return 0;
	if (!ksystest_wanted())
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->kind = KSYSTEST_KIND_ORACLE;
	e->nargs = 6;
	/* Spelled out: the verifier refuses a ctx pointer moved by a loop. */
	if (KERNEL_32()) {
		struct trace_event_raw_sys_enter___32 *c = (void *)ctx;

		e->nr = (__u64)(__s64)c->id;
		e->args[0] = c->args[0];
		e->args[1] = c->args[1];
		e->args[2] = c->args[2];
		e->args[3] = c->args[3];
		e->args[4] = c->args[4];
		e->args[5] = c->args[5];
	} else {
		e->nr = (__u64)ctx->id;
		e->args[0] = ctx->args[0];
		e->args[1] = ctx->args[1];
		e->args[2] = ctx->args[2];
		e->args[3] = ctx->args[3];
		e->args[4] = ctx->args[4];
		e->args[5] = ctx->args[5];
	}
	if (d && d->arg < 6 && d->words <= KSYSTEST_MAX_ARGS) {
		const void *p = 0;

		/*
		 * Not e->args[d->arg]: the event is on the stack, and older
		 * verifiers (focal's 5.4) refuse a stack read at a variable
		 * offset.
		 */
		for (i = 0; i < KSYSTEST_MAX_ARGS; i++)
			if (i == d->arg)
				p = (const void *)(unsigned long)e->args[i];

		if (d->wordsize == 8) {
			bpf_probe_read_user(e->deref, sizeof(e->deref), p);
		} else if (d->wordsize == 4) {
			__builtin_memset(narrow, 0, sizeof(narrow));
			bpf_probe_read_user(narrow, sizeof(narrow), p);
			for (i = 0; i < KSYSTEST_MAX_ARGS; i++)
				e->deref[i] = narrow[i];
		}
	}
	ksystest_submit(ctx, e);
	c = bpf_map_lookup_elem(&ksystest_oracle_content, &nr32);
	if (c && c->n > 0)
		oracle_copy(ctx, e, c->c[0]);
	if (c && c->n > 1)
		oracle_copy(ctx, e, c->c[1]);
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
 * (libbpf's own list: old mmap, clone orders, socketcall, compat, and what
 * the guests showed besides), a naive probe written with the x86_64
 * signature, the way users first write it, and an aware probe that
 * recovers the real arguments on every arch. The catalogue
 * (bpf/cases.yaml) says, per arch, how the naive probe goes wrong. A probe
 * may be several programs: NAME and NAME__SUFFIX are attached together,
 * and it fires if any of them attaches.
 */

/*
 * What an aware probe reads: the syscall's own pt_regs and its six
 * arguments, on every arch, without trusting what can be wrong.
 *
 * - powerpc: Debian's ppc64el kernels (6.1, 6.12) select the syscall
 *   wrapper, whose entry points are plain sys_NAME(const struct pt_regs *).
 *   cilium/ebpf looks for __powerpc64_sys_bpf (libbpf for
 *   __powerpc_sys_bpf), finds none and resolves LINUX_HAS_SYSCALL_WRAPPER
 *   to 0, so BPF_KSYSCALL reads the wrapper's own registers. The aware
 *   probe knows: every ppc64el kernel since 6.1 has the wrapper (before
 *   it, a probe would check that __se_sys_bpf is absent from kallsyms).
 * - i386: one x86 object serves x86_64 and i386 kernels (bpf2go builds one
 *   for GOARCH amd64 and 386). bpf_tracing.h reads x86_64's registers (di,
 *   si, dx, r10, r8, r9) and takes the wrapper's pt_regs from di; i386's
 *   __ia32_sys_NAME gets it in eax (-mregparm=3) and the arguments are in
 *   bx, cx, dx, si, di, bp. Only x86_64's pt_regs has r10: CO-RE tells.
 */
extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig;
#if defined(__TARGET_ARCH_powerpc)
#define AWARE_WRAPPER 1
#else
#define AWARE_WRAPPER LINUX_HAS_SYSCALL_WRAPPER
#endif

#if defined(__TARGET_ARCH_x86)
struct pt_regs___i386 {
	__u32 bx, cx, dx, si, di, bp, ax;
} __attribute__((preserve_access_index));
#define X86_64() bpf_core_field_exists(((struct pt_regs *)0)->r10)
#endif

static __always_inline void syscall_args(struct pt_regs *ctx, __u64 *a)
{
	struct pt_regs *regs;

#if defined(__TARGET_ARCH_x86)
	if (!X86_64()) {
		struct pt_regs___i386 *r;

		r = (void *)(unsigned long)BPF_CORE_READ((struct pt_regs___i386 *)ctx, ax);
		a[0] = BPF_CORE_READ(r, bx);
		a[1] = BPF_CORE_READ(r, cx);
		a[2] = BPF_CORE_READ(r, dx);
		a[3] = BPF_CORE_READ(r, si);
		a[4] = BPF_CORE_READ(r, di);
		a[5] = BPF_CORE_READ(r, bp);
		return;
	}
#endif
	regs = AWARE_WRAPPER ? (struct pt_regs *)PT_REGS_PARM1(ctx) : ctx;
	a[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	a[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	a[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	a[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
	a[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
	a[5] = PT_REGS_PARM6_CORE_SYSCALL(regs);
}

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
int aware_mmap(struct pt_regs *ctx)
{
	struct mmap_arg_struct m = {};
	__u64 a[6];

	syscall_args(ctx, a);
	if (bpf_probe_read_user(&m, sizeof(m), (const void *)a[0]))
		return 0;
	return emit(6, m.addr, m.len, m.prot, m.flags, m.fd, m.offset);
}
#else
#if defined(__TARGET_ARCH_arm)
/*
 * 32-bit arm has no mmap for EABI programs, only mmap2 (offset in pages),
 * whose entry stub branches to sys_mmap_pgoff with the registers intact.
 */
#define MMAP_SEC "ksyscall/mmap_pgoff"
#define MMAP_PAGES 1
#elif defined(__TARGET_ARCH_mips)
/* mips's syscall table sends mmap to sys_mips_mmap: there is no sys_mmap. */
#define MMAP_SEC "ksyscall/mips_mmap"
#define MMAP_PAGES 0
#else
#define MMAP_SEC "ksyscall/mmap"
#define MMAP_PAGES 0
#endif

SEC(MMAP_SEC)
int aware_mmap(struct pt_regs *ctx)
{
	__u64 a[6];

	syscall_args(ctx, a);
	if (MMAP_PAGES)
		a[5] <<= 12;
	return emit(6, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#if defined(__TARGET_ARCH_x86)
/*
 * i386 kernels have no sys_mmap: i386 programs map with mmap2 (offset in
 * pages), which the i386 table sends to sys_mmap_pgoff, and syscall 90 is
 * old_mmap, one pointer to six 32-bit longs, as on s390x.
 */
SEC("ksyscall/mmap_pgoff")
int aware_mmap__pgoff(struct pt_regs *ctx)
{
	__u64 a[6];

	syscall_args(ctx, a);
	return emit(6, a[0], a[1], a[2], a[3], a[4], a[5] << 12);
}

SEC("ksyscall/old_mmap")
int aware_mmap__old(struct pt_regs *ctx)
{
	__u32 m[6] = {};
	__u64 a[6];

	syscall_args(ctx, a);
	if (bpf_probe_read_user(m, sizeof(m), (const void *)a[0]))
		return 0;
	return emit(6, m[0], m[1], m[2], m[3], m[4], m[5]);
}
#endif
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
 * CONFIG_CLONE_BACKWARDS2 (newsp first); arm, arm64, i386, mips, powerpc
 * and riscv are CONFIG_CLONE_BACKWARDS (tls before child_tid); x86_64 is
 * neither.
 */
#if defined(__TARGET_ARCH_s390)
#define CLONE_BACKWARDS2() 1
#define CLONE_BACKWARDS() 0
#elif defined(__TARGET_ARCH_x86)
#define CLONE_BACKWARDS2() 0
#define CLONE_BACKWARDS() (!X86_64())
#else
#define CLONE_BACKWARDS2() 0
#define CLONE_BACKWARDS() 1
#endif

SEC("ksyscall/clone")
int aware_clone(struct pt_regs *ctx)
{
	__u64 a[6];

	syscall_args(ctx, a);
	if (CLONE_BACKWARDS2())
		return emit(5, a[1], a[0], a[2], a[3], a[4], 0);
	if (CLONE_BACKWARDS())
		return emit(5, a[0], a[1], a[2], a[4], a[3], 0);
	return emit(5, a[0], a[1], a[2], a[3], a[4], 0);
}

/*
 * connect(fd, uservaddr, addrlen). The 4th value is the first 8 bytes of
 * the sockaddr (family, port, address), read from user memory as a careful
 * probe would.
 */
static __always_inline int emit_connect(void *ctx, unsigned long fd, const void *sa,
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
	return emit_connect(ctx, fd, uservaddr, addrlen);
}

SEC("ksyscall/connect")
int aware_connect(struct pt_regs *ctx)
{
	__u64 a[6];

	syscall_args(ctx, a);
	return emit_connect(ctx, a[0], (const void *)a[1], a[2]);
}

/*
 * Where the ABI has socketcall (s390x, i386, ppc64), user space may reach
 * connect through socketcall(SYS_CONNECT, args*) instead: Go's syscall
 * package and net do on s390x and i386. The argument array holds the
 * ABI's longs: 4 bytes each on i386. The aware probe decodes that path too.
 */
#define SYS_CONNECT 3

SEC("ksyscall/socketcall")
int aware_connect__socketcall(struct pt_regs *ctx)
{
	unsigned long words[3] = {};
	__u64 a[6];

	syscall_args(ctx, a);
	if (a[0] != SYS_CONNECT)
		return 0;
#if defined(__TARGET_ARCH_x86)
	if (!X86_64()) {
		__u32 narrow[3] = {};

		if (bpf_probe_read_user(narrow, sizeof(narrow), (const void *)a[1]))
			return 0;
		return emit_connect(ctx, narrow[0], (const void *)(unsigned long)narrow[1], narrow[2]);
	}
#endif
	if (bpf_probe_read_user(words, sizeof(words), (const void *)a[1]))
		return 0;
	return emit_connect(ctx, words[0], (const void *)words[1], words[2]);
}

/* prctl read the aware way: the entry quirk's aware case. */
SEC("ksyscall/prctl")
int aware_prctl(struct pt_regs *ctx)
{
	__u64 a[6];

	syscall_args(ctx, a);
	return emit(5, a[0], a[1], a[2], a[3], a[4], 0);
}

/*
 * Compat: 32-bit programs on 64-bit kernels. ksyscall/ attaches only the
 * native entry points.
 * - x86_64: i386 tasks enter __ia32_sys_* with their arguments in bx, cx,
 *   dx, si, di, bp, and clone through the compat ia32_clone, which takes
 *   CLONE_BACKWARDS order (tls before child_tid).
 * - arm64: AArch32 tasks enter the native __arm64_sys_* wrappers with
 *   arguments in x0..x5, and clone goes to the native sys_clone, which is
 *   CONFIG_CLONE_BACKWARDS on arm64 too.
 * - mips64: o32 tasks enter the native sys_* functions (no wrapper), with
 *   arguments 5 and up copied from the user stack into a4..a7, and clone
 *   through the __sys_clone stub to sys_clone (CONFIG_CLONE_BACKWARDS).
 * Either way the program passed clone's arguments in CLONE_BACKWARDS
 * order, and that is what the aware probe decodes.
 */
#if defined(__TARGET_ARCH_x86)
#define COMPAT_REGS(ctx) ((struct pt_regs *)PT_REGS_PARM1(ctx))
#define COMPAT_ARG(regs, n) \
	((n) == 0 ? BPF_CORE_READ(regs, bx) : (n) == 1 ? BPF_CORE_READ(regs, cx) : \
	 (n) == 2 ? BPF_CORE_READ(regs, dx) : (n) == 3 ? BPF_CORE_READ(regs, si) : \
	 BPF_CORE_READ(regs, di))
#define COMPAT_WRITE "kprobe/__ia32_sys_write"
#define COMPAT_PRCTL "kprobe/__ia32_sys_prctl"
#define COMPAT_CLONE "kprobe/__ia32_compat_sys_ia32_clone"
#elif defined(__TARGET_ARCH_arm64)
#define COMPAT_REGS(ctx) ((struct pt_regs *)PT_REGS_PARM1(ctx))
#define COMPAT_ARG(regs, n) \
	((n) == 0 ? BPF_CORE_READ((struct pt_regs___arm64 *)(regs), orig_x0) : \
	 BPF_CORE_READ((struct user_pt_regs *)(regs), regs[n]))
#define COMPAT_WRITE "kprobe/__arm64_sys_write"
#define COMPAT_PRCTL "kprobe/__arm64_sys_prctl"
#define COMPAT_CLONE "kprobe/__arm64_sys_clone"
#elif defined(__TARGET_ARCH_mips)
#define COMPAT_REGS(ctx) (ctx)
#define COMPAT_ARG(regs, n) BPF_CORE_READ((regs), regs[4 + (n)])
#define COMPAT_WRITE "kprobe/sys_write"
#define COMPAT_PRCTL "kprobe/sys_prctl"
#define COMPAT_CLONE "kprobe/sys_clone"
#endif

#ifdef COMPAT_ARG
/* Compat arguments are 32 bits wide whatever the register holds. */
#define CARG(regs, n) ((__u64)(__u32)COMPAT_ARG(regs, n))

SEC(COMPAT_WRITE)
int BPF_KPROBE(compat_write)
{
	struct pt_regs *regs = COMPAT_REGS(ctx);

	return emit(3, CARG(regs, 0), CARG(regs, 1), CARG(regs, 2), 0, 0, 0);
}

SEC(COMPAT_PRCTL)
int BPF_KPROBE(compat_prctl)
{
	struct pt_regs *regs = COMPAT_REGS(ctx);

	return emit(5, CARG(regs, 0), CARG(regs, 1), CARG(regs, 2),
		    CARG(regs, 3), CARG(regs, 4), 0);
}

static __always_inline int emit_compat_clone(struct pt_regs *ctx)
{
	struct pt_regs *regs = COMPAT_REGS(ctx);

	return emit(5, CARG(regs, 0), CARG(regs, 1), CARG(regs, 2),
		    CARG(regs, 4), CARG(regs, 3), 0);
}

SEC(COMPAT_CLONE)
int BPF_KPROBE(compat_clone)
{
	return emit_compat_clone(ctx);
}

#if defined(__TARGET_ARCH_x86)
/* The same entry point, as focal's 5.4 names it. */
SEC("kprobe/__ia32_compat_sys_x86_clone")
int BPF_KPROBE(compat_clone__x86)
{
	return emit_compat_clone(ctx);
}
#endif
#endif

/*
 * A deliberately wrong probe, for proving that ksystest catches one: it
 * reads the syscall's saved registers with the function-call convention
 * (PT_REGS_PARMn_CORE) instead of the syscall one. That reads rcx for the
 * 4th argument on x86_64 (the syscall instruction leaves the return address
 * there; the argument is in r10) and gprs[2] for the 1st on s390x (the
 * argument is in orig_gpr2). It assumes the syscall wrapper.
 * Used by harness/run's VM tests through testdata/wrong-probe.yaml, on
 * x86_64, arm64 and s390x.
 */
#if defined(__TARGET_ARCH_x86) || defined(__TARGET_ARCH_arm64) || defined(__TARGET_ARCH_s390)
SEC("ksyscall/splice")
int BPF_KPROBE(wrong_splice)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);

	return emit(6, PT_REGS_PARM1_CORE(regs), PT_REGS_PARM2_CORE(regs),
		    PT_REGS_PARM3_CORE(regs), PT_REGS_PARM4_CORE(regs),
		    PT_REGS_PARM5_CORE(regs), 0);
}
#endif
