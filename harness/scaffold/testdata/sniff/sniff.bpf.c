// SPDX-License-Identifier: GPL-2.0
/*
 * A tool as its authors write it, not as a selftest: its own license, a
 * const volatile filter, what it read stored into globals through casts
 * and inline helpers. ksystest init must find every store (scan_test.go).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile pid_t targ_tgid = 0;

__u64 open_dfd, open_flags;
volatile __u64 open_mode;
char open_path[64];
__u64 send_fd = 0;
__u64 send_len = 0;
__u64 send_flags = 0;
__u64 send_arch_only = 0;

static __always_inline bool mine(void)
{
	return !targ_tgid || (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

static __always_inline void keep(__u64 *dst, long v)
{
	*dst = v;
}

static __always_inline __u64 widen(long v)
{
	return (__u64)v;
}

static __always_inline void note_flags(int flags)
{
	open_flags = (unsigned int)flags;
}

SEC("ksyscall/openat")
int BPF_KSYSCALL(sniff_openat, int dfd, const char *filename, int flags,
		 umode_t mode)
{
	if (!mine())
		return 0;
	open_dfd = (__u64)(long)dfd;
	note_flags(flags);
	keep(&open_mode, mode);
	bpf_probe_read_user_str(open_path, sizeof(open_path), filename);
	return 0;
}

SEC("ksyscall/sendto")
int BPF_KSYSCALL(sniff_sendto, int fd, void *buff, size_t len, unsigned int flags)
{
	if (!mine())
		return 0;
	send_fd = fd;
	send_len = widen(len);
	send_flags = flags;
#if defined(bpf_target_x86)
	/* Not there on every arch: not a reading init can vouch for. */
	send_arch_only = fd;
#endif
	return 0;
}
