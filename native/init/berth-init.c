/*
 * berth-init: the only code of Berth that runs between fork and exec of a container process.
 *
 * The TypeScript runtime (native/runtime/init-channel.ts) spawns `berth-init init` (the container's init)
 * or `berth-init exec` (a process joining a running container) with posix_spawn(3), with:
 *   fd 0-2  the process's stdio (for a terminal: the pty slave on all three);
 *   fd 3    a stream socket to the runtime (the protocol below).
 *
 * Protocol (also docs/init-protocol.md):
 *   1. runtime -> berth-init: the configuration, ONE netstring "<len>:<payload>," whose payload is a
 *      sequence of netstrings, one per operation; an operation's payload is again a sequence of netstrings:
 *      its name then its fields (text, no NUL bytes). The runtime plans everything (order, flags as
 *      numbers); this program executes the operations in order and knows no OCI.
 *   2. berth-init executes the operations before "clone" itself: "cgroup-join <file>..." (writes "0" into
 *      each: it moves itself into the container's cgroups, so the child is born there), then "join <ns>
 *      <path>" (setns; every path is opened before the first setns). At "clone <flags>" it clones the
 *      child with flags | CLONE_PARENT | SIGCHLD, so the child is the runtime's own child (the runtime
 *      process is its reaper), writes "pid <host pid>\n" and exits 0: no monitor stays behind.
 *   3. The child executes the remaining operations in order. "wait-go", when the runtime puts it there,
 *      writes "waiting\n" and blocks until the byte 'G' arrives (the runtime writes cgroup limits and runs
 *      prestart hooks meanwhile; EOF or any other byte: exit 1 without a word, the runtime gave up).
 *   4. The operations after clone: unshare, mounts, pivot_root, hostname..., and
 *      then the last one, "exec": close every fd but 0-2 (CVE-2024-21626), rlimits, no_new_privs, user,
 *      capabilities, cwd, executable lookup. In init mode it writes "ready\n" and blocks on the start
 *      barrier (the exec FIFO: see process.c), then execve(). In exec mode it execve()s at once.
 *   5. Any failure: "error <message>\n" and exit 1. The socket is close-on-exec: EOF with no "error" after
 *      "ready" (init) or "pid" (exec) means execve succeeded.
 *
 * The runtime executes this program from a sealed memfd copy (CVE-2019-5736), and this program makes
 * itself non-dumpable so that container processes cannot open /proc/<pid>/exe or its memory before exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth-init.h"
#include "hooks.h"
#include "seccomp.h"

int sync_fd = 3;
int pivoted;

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void send_line(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	write_all(sync_fd, buf, (size_t)n);
}

static void vdie(int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[3072];
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		n = 0;
	if (with_errno && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(saved));
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (sync_fd >= 0 && fcntl(sync_fd, F_GETFD) >= 0)
		send_line("error %s", msg);
	else
		dprintf(2, "berth-init: %s\n", msg);
	_exit(1);
}

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdie(0, fmt, ap);
	va_end(ap);
	_exit(1);
}

void die_errno(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdie(1, fmt, ap);
	va_end(ap);
	_exit(1);
}

static int ns_flag(const char *name)
{
	static const struct { const char *name; int flag; } table[] = {
		{ "mnt", CLONE_NEWNS },   { "uts", CLONE_NEWUTS },       { "ipc", CLONE_NEWIPC },
		{ "net", CLONE_NEWNET },  { "pid", CLONE_NEWPID },       { "cgroup", CLONE_NEWCGROUP },
		{ "user", CLONE_NEWUSER }, { "time", CLONE_NEWTIME },
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i].name, name) == 0)
			return table[i].flag;
	die("unknown namespace %s", name);
}

/* "join <ns> <path>..." pairs: every path is opened first (a later setns into a mount namespace would
 * change what the next path means), then setns() in the order given. */
static int join_namespaces(const struct config *cfg, int from)
{
	int fds[16], flags[16], n = 0, i = from;
	for (; i < cfg->nops && strcmp(cfg->ops[i].argv[0], "join") == 0; i++) {
		const struct op *op = &cfg->ops[i];
		if (op->argc != 3 || n == 16)
			die("join: bad operation");
		flags[n] = ns_flag(op->argv[1]);
		fds[n] = open(op->argv[2], O_RDONLY | O_CLOEXEC);
		if (fds[n] < 0)
			die_errno("join %s namespace %s", op->argv[1], op->argv[2]);
		n++;
	}
	for (int j = 0; j < n; j++) {
		if (setns(fds[j], flags[j]) < 0)
			die_errno("setns %s", cfg->ops[from + j].argv[2]);
		close(fds[j]);
	}
	return i;
}

/* "cgroup-join <file>...": writes "0" into each (v1 <dir>/tasks, v2 <dir>/cgroup.procs): this single-threaded
 * process moves itself, so the child cloned next starts inside the container's cgroups. */
static int into_cgroup_fd = -1;

static void join_cgroups(const struct op *op)
{
	for (int i = 1; i < op->argc; i++) {
		/* A v2 cgroup.procs: the child is cloned straight into it (clone3 CLONE_INTO_CGROUP), which
		 * spares the migration and its global lock; written below only if clone3 cannot do it. */
		size_t len = strlen(op->argv[i]);
		const char *suffix = "/cgroup.procs";
		size_t slen = strlen(suffix);
		if (into_cgroup_fd < 0 && len > slen && strcmp(op->argv[i] + len - slen, suffix) == 0) {
			char dir[4096];
			snprintf(dir, sizeof dir, "%.*s", (int)(len - slen), op->argv[i]);
			into_cgroup_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (into_cgroup_fd >= 0)
				continue;
		}
		int fd = open(op->argv[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			die_errno("join cgroup %s", op->argv[i]);
		if (write(fd, "0", 1) != 1)
			die_errno("join cgroup %s", op->argv[i]);
		close(fd);
	}
}

/* clone(2) as a fork, into the v2 cgroup of join_cgroups when there is one (clone3, Linux 5.7+). */
static pid_t clone_child(unsigned long flags)
{
	if (into_cgroup_fd >= 0) {
		struct {
			uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
				set_tid_size, cgroup;
		} args = { 0 };
		args.flags = flags | CLONE_PARENT | 0x200000000ULL /* CLONE_INTO_CGROUP */;
		args.exit_signal = 0; /* with CLONE_PARENT, clone3 takes ours (SIGCHLD) and refuses any other */
		args.cgroup = (uint64_t)into_cgroup_fd;
		pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
		if (pid >= 0 || (errno != ENOSYS && errno != E2BIG && errno != EINVAL))
			return pid;
		/* An older kernel: join by writing, then clone. */
		int fd = openat(into_cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			die_errno("join cgroup");
		close(fd);
	}
	return (pid_t)syscall(SYS_clone, flags | CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
}

static void wait_go(void)
{
	send_line("waiting");
	char c = 0;
	ssize_t n;
	do
		n = read(sync_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || c != 'G')
		_exit(1);
}

static void run_child_op(const struct op *op, int is_init)
{
	const char *name = op->argv[0];
	if (strcmp(name, "unshare") == 0) {
		if (op->argc != 2)
			die("unshare: bad operation");
		if (unshare(ns_flag(op->argv[1])) < 0)
			die_errno("unshare %s", op->argv[1]);
	} else if (strcmp(name, "setsid") == 0) {
		if (setsid() < 0 && getsid(0) != getpid())
			die_errno("setsid");
	} else if (strcmp(name, "wait-go") == 0) {
		wait_go();
	} else if (strcmp(name, "become-root") == 0) {
		/* In a user namespace (its maps written by now): become its root, capabilities kept. */
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			die_errno("become root of the user namespace (is container id 0 mapped?)");
		setgroups(0, NULL);
	} else if (strcmp(name, "exec") == 0) {
		finalize_and_exec(is_init);
	} else if (!rootfs_op(op) && !process_op(op) && !seccomp_op(op) && !hooks_op(op)) {
		die("unknown operation %s", name);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "init") != 0 && strcmp(argv[1], "exec") != 0)) {
		sync_fd = -1;
		die("usage: berth-init init|exec (started by the berth runtime with its socket as fd 3)");
	}
	if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) {
		sync_fd = -1;
		die_errno("fd 3 is not the runtime's socket");
	}
	int is_init = strcmp(argv[1], "init") == 0;
	/* Run from a memfd (/proc/<pid>/fd/N): name ourselves for ps. */
	prctl(PR_SET_NAME, is_init ? "berth-init" : "berth-exec", 0, 0, 0);
	/* Non-dumpable until execve: container processes may not ptrace us or open /proc/<pid>/exe, mem. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_DUMPABLE)");

	struct config cfg;
	read_config(sync_fd, &cfg);

	int i = 0;
	if (i < cfg.nops && strcmp(cfg.ops[i].argv[0], "cgroup-join") == 0)
		join_cgroups(&cfg.ops[i++]);
	i = join_namespaces(&cfg, i);
	if (i >= cfg.nops || strcmp(cfg.ops[i].argv[0], "clone") != 0 || cfg.ops[i].argc != 2)
		die("expected clone after join operations");
	unsigned long flags = (unsigned long)parse_u64(&cfg.ops[i], 1);
	i++;

	/* The child must not write on the socket before our "pid" line: it waits for EOF on this pipe. */
	int order[2];
	if (pipe2(order, O_CLOEXEC) < 0)
		die_errno("pipe");
	/* A fork (no new stack): the child continues below with a copy of everything parsed. */
	pid_t pid = clone_child(flags);
	if (pid < 0)
		die_errno("clone");
	if (pid > 0) {
		send_line("pid %d", pid);
		_exit(0);
	}
	close(order[1]);
	char c;
	while (read(order[0], &c, 1) < 0 && errno == EINTR)
		;
	close(order[0]);

	for (; i < cfg.nops; i++)
		run_child_op(&cfg.ops[i], is_init);
	die("configuration ends without exec");
}
