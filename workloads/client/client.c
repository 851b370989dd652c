/*
 * client is a workload: an ordinary C program whose calls go through glibc
 * the way most programs' do, so that probes attached while it runs see
 * glibc's choice of syscall on each arch (mmap2, socketcall, clone3, ...),
 * not ksystest's. In order, it writes a file, maps memory (anonymous, and
 * the file at a non-zero offset), talks over TCP to a listener of its own
 * on 127.0.0.1, and starts a child process and a thread. It prints one line
 * per step and exits 0; on any failure it says what failed and exits 1.
 * It is built static (harness/workload): guests have no libc of their own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char header[] = "ksystest client\n";
static const char marker[] = "second page\n";
static const char ping[] = "ping";

static void die(const char *what)
{
	fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "client: %s\n", what);
	exit(1);
}

/*
 * The file has the header in its first page and the marker at the start
 * of its second, so a mapping at offset one page must begin with the
 * marker.
 */
static void file_and_mmap(long page)
{
	const char *dir = getenv("TMPDIR");
	char path[256];
	int fd;
	char *anon, *second;

	snprintf(path, sizeof(path), "%s/ksystest-client.%d", dir && *dir ? dir : "/tmp", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die(path);
	printf("open: %s, fd %d\n", path, fd);
	if (write(fd, header, strlen(header)) != (ssize_t)strlen(header))
		die("write");
	if (pwrite(fd, marker, strlen(marker), page) != (ssize_t)strlen(marker))
		die("pwrite");
	printf("write: %zu bytes at offset 0, %zu at %ld\n", strlen(header), strlen(marker), page);

	anon = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		die("mmap anonymous");
	memset(anon, 0x5a, page);
	printf("mmap: anonymous, %ld bytes\n", page);

	second = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);
	if (second == MAP_FAILED)
		die("mmap file");
	if (memcmp(second, marker, strlen(marker)) != 0)
		fail("mmap file: the second page does not start with the marker");
	printf("mmap: fd %d, %ld bytes at offset %ld\n", fd, page, page);

	if (munmap(second, page) != 0 || munmap(anon, page) != 0)
		die("munmap");
	close(fd);
	if (unlink(path) != 0)
		die(path);
}

/* A listener on an ephemeral port of 127.0.0.1, a connection to it, and
 * bytes written on one end read on the other. */
static void tcp(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof(addr);
	int lfd, cfd, afd;
	char buf[sizeof(ping)];
	size_t got = 0;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("bind 127.0.0.1");
	if (listen(lfd, 1) != 0)
		die("listen");
	if (getsockname(lfd, (struct sockaddr *)&addr, &len) != 0)
		die("getsockname");
	printf("listen: 127.0.0.1:%d, fd %d\n", ntohs(addr.sin_port), lfd);

	cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (cfd < 0)
		die("socket");
	if (connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die("connect 127.0.0.1");
	printf("connect: fd %d to 127.0.0.1:%d\n", cfd, ntohs(addr.sin_port));
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		die("accept");
	printf("accept: fd %d\n", afd);

	if (write(cfd, ping, strlen(ping)) != (ssize_t)strlen(ping))
		die("write to socket");
	while (got < strlen(ping)) {
		ssize_t n = read(afd, buf + got, strlen(ping) - got);
		if (n < 0)
			die("read from socket");
		if (n == 0)
			fail("read from socket: connection closed early");
		got += n;
	}
	if (memcmp(buf, ping, strlen(ping)) != 0)
		fail("read from socket: not what was written");
	printf("tcp: wrote and read %zu bytes\n", got);
	close(afd);
	close(cfd);
	close(lfd);
}

static void *thread_main(void *arg)
{
	printf("thread: running\n");
	return arg;
}

/* fork() calls clone, pthread_create clone3 where the kernel has it. */
static void child_and_thread(void)
{
	static int token;
	pthread_t th;
	void *ret;
	int status, err;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("fork: the child did not exit 0");
	printf("fork: child %d exited 0\n", (int)pid);

	err = pthread_create(&th, NULL, thread_main, &token);
	if (err != 0) {
		errno = err;
		die("pthread_create");
	}
	err = pthread_join(th, &ret);
	if (err != 0) {
		errno = err;
		die("pthread_join");
	}
	if (ret != &token)
		fail("pthread_join: the thread returned something else");
	printf("thread: joined\n");
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);

	/* One write per line, as each step happens, and nothing left in the
	 * buffer for the forked child to print again. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (page <= 0)
		die("sysconf(_SC_PAGESIZE)");
	file_and_mmap(page);
	tcp();
	child_and_thread();
	printf("done\n");
	return 0;
}
