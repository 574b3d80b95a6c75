/*
 * OCI hooks run by berth-init itself, inside the container's namespaces (the runtime plans them in
 * native/runtime/hooks.ts; createRuntime/prestart/poststart/poststop run in the runtime's namespaces there):
 *
 *   hook <kind> <timeout s> <state before pid> <state after pid> <path> <nargs> <arg>... <env>...
 *        runs now (createContainer: placed before "pivot", so <path> resolves in the runtime's filesystem)
 *   hook-after-start <same fields>
 *        recorded, run by hooks_after_start() once the start barrier is released, before execve
 *        (startContainer: <path> resolves in the container)
 *
 * A hook gets the container's state on stdin (a memfd holding <state before pid><host pid><state after pid>:
 * the host pid is read from the host's /proc/self while it is still mounted, i.e. before pivot_root), its
 * args (args[0] is its argv[0]) and env, and its stdout and stderr on a pipe kept for the error message.
 * A timeout of 0 means none; past it the hook is killed (SIGKILL). A failure is fatal: "error ..." to the
 * runtime and exit 1, as the OCI runtime spec asks for these hooks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"

#define MAX_DEFERRED 32
#define OUTPUT_MAX 1024

static const struct op *deferred[MAX_DEFERRED];
static int ndeferred;
static long host_pid;

/* The pid as the host sees it: /proc is still the host's procfs until pivot_root. */
static long pid_on_host(void)
{
	if (host_pid > 0)
		return host_pid;
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = 0;
		host_pid = strtol(buf, NULL, 10);
	}
	if (host_pid <= 0)
		host_pid = getpid();
	return host_pid;
}

static int state_file(const struct op *op)
{
	int fd = (int)syscall(SYS_memfd_create, "hook-state", MFD_CLOEXEC);
	if (fd < 0)
		die_errno("%s hook: memfd", op->argv[1]);
	dprintf(fd, "%s%ld%s", op->argv[3], pid_on_host(), op->argv[4]);
	if (lseek(fd, 0, SEEK_SET) < 0)
		die_errno("%s hook: seek", op->argv[1]);
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_hook(const struct op *op)
{
	if (op->argc < 7)
		die("%s: bad operation", op->argv[0]);
	const char *kind = op->argv[1], *path = op->argv[5];
	long timeout_s = (long)parse_u64(op, 2);
	int nargs = (int)parse_u64(op, 6);
	if (nargs < 0 || 7 + nargs > op->argc)
		die("%s: bad operation", op->argv[0]);
	char **args = calloc((size_t)nargs + 2, sizeof(char *));
	char **env = calloc((size_t)(op->argc - 7 - nargs) + 1, sizeof(char *));
	if (!args || !env)
		die("out of memory");
	for (int i = 0; i < nargs; i++)
		args[i] = op->argv[7 + i];
	if (nargs == 0)
		args[0] = (char *)path;
	for (int i = 7 + nargs, j = 0; i < op->argc; i++, j++)
		env[j] = op->argv[i];

	int in = state_file(op);
	int out[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		die_errno("%s hook %s: pipe", kind, path);
	pid_t pid = fork();
	if (pid < 0)
		die_errno("%s hook %s: fork", kind, path);
	if (pid == 0) {
		if (dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(path, args, env);
		dprintf(2, "exec %s: %s", path, strerror(errno));
		_exit(127);
	}
	close(in);
	close(out[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	char output[OUTPUT_MAX + 1];
	size_t got = 0;
	long long deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : -1;
	int status = 0, timed_out = 0, out_open = 1;
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		struct pollfd p[2] = { { pidfd, POLLIN, 0 }, { out_open ? out[0] : -1, POLLIN, 0 } };
		int wait_ms = deadline < 0 ? 100 : (int)(deadline - now_ms());
		if (deadline >= 0 && wait_ms <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			timed_out = 1;
			break;
		}
		if (pidfd < 0 && wait_ms > 10)
			wait_ms = 10; /* no pidfd: poll the exit */
		if (poll(p, 2, wait_ms) < 0 && errno != EINTR)
			die_errno("%s hook %s: poll", kind, path);
		if (out_open && (p[1].revents & (POLLIN | POLLHUP))) {
			char buf[512];
			ssize_t n = read(out[0], buf, sizeof buf);
			if (n > 0 && got < OUTPUT_MAX) {
				size_t take = (size_t)n < OUTPUT_MAX - got ? (size_t)n : OUTPUT_MAX - got;
				memcpy(output + got, buf, take);
				got += take;
			} else if (n == 0) {
				out_open = 0;
			}
		}
	}
	ssize_t n;
	while (got < OUTPUT_MAX && (n = read(out[0], output + got, OUTPUT_MAX - got)) > 0)
		got += (size_t)n;
	output[got] = 0;
	while (got > 0 && (output[got - 1] == '\n' || output[got - 1] == ' '))
		output[--got] = 0;
	close(out[0]);
	if (pidfd >= 0)
		close(pidfd);
	free(args);
	free(env);
	if (timed_out)
		die("%s hook %s: timed out after %ld s", kind, path, timeout_s);
	if (WIFSIGNALED(status))
		die("%s hook %s: killed by signal %d%s%s", kind, path, WTERMSIG(status), got ? ": " : "", output);
	if (WEXITSTATUS(status) != 0)
		die("%s hook %s: exit status %d%s%s", kind, path, WEXITSTATUS(status), got ? ": " : "", output);
}

int hooks_op(const struct op *op)
{
	if (strcmp(op->argv[0], "hook") == 0) {
		run_hook(op);
	} else if (strcmp(op->argv[0], "hook-after-start") == 0) {
		if (ndeferred == MAX_DEFERRED)
			die("hook-after-start: too many hooks");
		pid_on_host();
		deferred[ndeferred++] = op;
	} else {
		return 0;
	}
	return 1;
}

void hooks_after_start(void)
{
	for (int i = 0; i < ndeferred; i++)
		run_hook(deferred[i]);
}
