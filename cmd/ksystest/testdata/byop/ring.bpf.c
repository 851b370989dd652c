// SPDX-License-Identifier: GPL-2.0
/*
 * A user's probe that reports through ksystest's ring buffer (ksystest.h),
 * built against a vmlinux.h ksystest dumps from each target kernel's BTF.
 * The cast below draws a compiler warning on purpose: ksystest shows
 * warnings in users' code, it never silences them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <ksystest.h>

SEC("ksyscall/write")
int BPF_KSYSCALL(write_ring, int fd, const void *buf, unsigned long count)
{
	const void *fdp = (const void *)fd; /* warning: cast from a smaller integer */

	/* Set 0 is the case's probe reading; set 1 a second capture set. */
	ksystest_emit_set(0, 3, (__u64)fdp, (__u64)buf, count, 0, 0, 0);
	return ksystest_emit_set(1, 3, fd, (__u64)buf, count, 0, 0, 0);
}

char _license[] SEC("license") = "GPL";
