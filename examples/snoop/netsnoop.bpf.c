// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netsnoop: every connect and sendto of one process, as a record in a
 * ring buffer, with the socket address copied from the caller's memory
 * and the length the call gave it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "snoop.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile pid_t targ_tgid = 0;

/*
 * By number: the vmlinux.h of a kernel before 5.8 has no
 * BPF_MAP_TYPE_RINGBUF, and the tool is built against each kernel's own;
 * such a kernel refuses the map when the tool loads.
 */
#define RINGBUF 27

struct {
	__uint(type, RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Keeps struct net_event in the object's BTF, for user space to read records by. */
const struct net_event *unused_event __attribute__((unused));

static __always_inline struct net_event *new_event(__u32 op, int fd, const void *addr, int addrlen)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct net_event *e;

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->op = op;
	e->fd = fd;
	e->addrlen = addrlen;
	/* Room for any address the tool prints; the call's own length says
	 * how much of it is the address. */
	if (addr)
		bpf_probe_read_user(e->addr, sizeof(e->addr), addr);
	return e;
}

SEC("ksyscall/connect")
int BPF_KSYSCALL(trace_connect, int fd, struct sockaddr *uservaddr, int addrlen)
{
	struct net_event *e = new_event(NET_CONNECT, fd, uservaddr, addrlen);

	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("ksyscall/sendto")
int BPF_KSYSCALL(trace_sendto, int fd, void *buff, size_t len, unsigned int flags,
		 struct sockaddr *addr, int addr_len)
{
	struct net_event *e = new_event(NET_SENDTO, fd, addr, addr_len);

	if (!e)
		return 0;
	e->len = len;
	e->flags = flags;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
