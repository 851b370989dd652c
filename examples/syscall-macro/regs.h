/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The few kernel types these probes read, named as the kernel names them
 * so CO-RE relocates them against each kernel's BTF (a hand-written
 * subset of vmlinux.h, one source for every arch). On 32-bit arm the
 * registers are spelled __u32: in BPF, long is 8 bytes.
 */
#ifndef REGS_H
#define REGS_H

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
typedef int pid_t;

/* bpf_tracing.h: use the kernel's register names (di, not rdi). */
#define __VMLINUX_H__

#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp, pc, pstate;
} __attribute__((preserve_access_index));
struct pt_regs;
#elif defined(__TARGET_ARCH_s390)
typedef struct {
	unsigned long mask, addr;
} __attribute__((preserve_access_index)) psw_t;
typedef struct {
	psw_t psw;
	unsigned long gprs[16];
} __attribute__((preserve_access_index)) user_pt_regs;
struct pt_regs;
#elif defined(__TARGET_ARCH_arm)
struct pt_regs {
	__u32 uregs[18];
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_mips)
struct pt_regs {
	unsigned long regs[32];
	unsigned long cp0_status, hi, lo, cp0_badvaddr, cp0_cause, cp0_epc;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_powerpc)
struct pt_regs {
	unsigned long gpr[32];
	unsigned long nip, msr, orig_gpr3;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_riscv)
struct user_regs_struct {
	unsigned long pc, ra, sp, gp, tp, t0, t1, t2, s0, s1;
	unsigned long a0, a1, a2, a3, a4, a5, a6, a7;
} __attribute__((preserve_access_index));
struct pt_regs;
#else
#error "regs.h: no types for this arch"
#endif

#endif /* REGS_H */
