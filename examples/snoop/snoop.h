/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records the snoop tools write for their user space, as such tools
 * define them: one struct per tool, read back by whatever reads the ring
 * buffer or the perf buffer.
 */
#ifndef SNOOP_H
#define SNOOP_H

/* Room for a path; a build may give less (-DPATH_LEN=64). */
#ifndef PATH_LEN
#define PATH_LEN 256
#endif

/* opensnoop: one openat. */
struct event {
	__u32 pid;
	int dfd;
	int flags;
	__u32 mode;
	char path[PATH_LEN];
};

/* opensnoop_perf: one openat, written when it returns. */
struct open_event {
	__u32 pid;
	__u32 tid;
	int ret;
	int dfd;
	int flags;
	__u32 mode;
	char path[PATH_LEN];
};

/* netsnoop: one connect or sendto, with the address it names. */
enum net_op {
	NET_CONNECT = 1,
	NET_SENDTO = 2,
};

struct net_event {
	__u32 pid;
	__u32 tid;
	__u32 op;		/* enum net_op */
	int fd;
	__u64 len;		/* sendto: bytes to send */
	__u32 flags;		/* sendto: MSG_* */
	__u32 addrlen;
	__u8 addr[28];		/* room for a struct sockaddr_in6 */
};

#endif /* SNOOP_H */
