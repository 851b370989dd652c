/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types the probes need, named as the kernel names them so
 * that CO-RE relocates them against the running kernel's BTF
 * (preserve_access_index). Offsets here are placeholders: the loader rewrites
 * them from BTF. We define them instead of including a vmlinux.h so one
 * source builds for every target without a 3 MB header per arch.
 */
#ifndef KSYS_REGS_H
#define KSYS_REGS_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

/* Tells bpf_tracing.h to use the kernel's register names (di, not rdi). */
#define __VMLINUX_H__

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
};

#if defined(__TARGET_ARCH_x86)

struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));

#elif defined(__TARGET_ARCH_arm64)

struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));
struct pt_regs;

#elif defined(__TARGET_ARCH_s390)

typedef struct {
	unsigned long mask;
	unsigned long addr;
} __attribute__((preserve_access_index)) psw_t;

typedef struct {
	psw_t psw;
	unsigned long gprs[16];
} __attribute__((preserve_access_index)) user_pt_regs;
struct pt_regs;

#elif defined(__TARGET_ARCH_arm)

/*
 * The kernel's uregs are 32-bit longs. In the BPF target long is 64 bits,
 * and CO-RE fixes offsets but not load widths, so spell them __u32.
 */
struct pt_regs {
	__u32 uregs[18];
} __attribute__((preserve_access_index));

#elif defined(__TARGET_ARCH_mips)

/* The 64-bit kernel's saved registers: a0..a7 are regs[4..11]. */
struct pt_regs {
	unsigned long regs[32];
	unsigned long cp0_status;
	unsigned long hi;
	unsigned long lo;
	unsigned long cp0_badvaddr;
	unsigned long cp0_cause;
	unsigned long cp0_epc;
} __attribute__((preserve_access_index));

#elif defined(__TARGET_ARCH_powerpc)

/* The kernel's pt_regs wraps these in an anonymous union; CO-RE finds them. */
struct pt_regs {
	unsigned long gpr[32];
	unsigned long nip;
	unsigned long msr;
	unsigned long orig_gpr3;
} __attribute__((preserve_access_index));

#elif defined(__TARGET_ARCH_riscv)

struct user_regs_struct {
	unsigned long pc, ra, sp, gp, tp, t0, t1, t2, s0, s1;
	unsigned long a0, a1, a2, a3, a4, a5, a6, a7;
} __attribute__((preserve_access_index));
struct pt_regs;

#else
#error "unsupported target arch"
#endif

#endif /* KSYS_REGS_H */
