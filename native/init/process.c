/*
 * Process attributes and the final exec of a container process (init or exec'd).
 *
 * Operations (recorded here, applied by finalize_and_exec in a fixed order, runc's order):
 *   args <arg>...              env <NAME=value>...         cwd <path>          umask <mode>
 *   user <uid> <gid> [<additional gid>...]                 rlimit <resource> <soft> <hard>
 *   caps <bounding> <effective> <permitted> <inheritable> <ambient>    (64-bit masks)
 *   nnp                        no_new_privs
 *   preserve-fds <n>           fds 4..3+n (after the socket) reach the process as 3..2+n
 *   oom-score-adj <n>          applied at once
 *   ctty                       fd 0 (the pty slave) becomes the controlling terminal, at once
 *   fifo <path>                the start barrier (init only), opened at once, before pivot_root
 *   pty <rows> <cols> [console]  a pty from the container's /dev/ptmx as fds 0-2 (see open_pty), at once
 *
 * Start barrier: the init opens the exec FIFO read-only and non-blocking, reports "ready", then polls it.
 * Whoever starts the container (the runtime's run(), possibly another process) opens it write-only and
 * non-blocking (ENXIO means no init is waiting), writes one byte and closes it; the init reads it and
 * execs. Only the byte's arrival starts the process: a writer that closes without writing aborts it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "berth-init.h"
#include "hooks.h"
#include "seccomp.h"

#define MAX_RLIMITS 32
#define MAX_GROUPS 256

static char **args, **env;
static int nenv;
static const char *cwd = "/";
static int has_user;
static uid_t uid;
static gid_t gid;
static gid_t groups[MAX_GROUPS];
static int ngroups;
static int has_umask;
static mode_t umask_value;
static struct { int resource; struct rlimit lim; } rlimits[MAX_RLIMITS];
static int nrlimits;
static int has_caps;
static uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
static int no_new_privs;
static int fifo_fd = -1;
static int preserve_fds;

/*
 * "pty <rows> <cols> [console]": a pty from the container's own /dev/ptmx (so `tty` names it inside). The
 * master's number goes to the runtime ("pty <fd>"), which copies it with pidfd_getfd(2) and answers 'G';
 * the slave becomes fds 0-2 (and, for the init, is bound onto /dev/console).
 */
static void open_pty(const struct op *op)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		die_errno("open /dev/ptmx");
	char name[64];
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0)
		die_errno("unlock pty");
	int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		die_errno("open %s", name);
	struct winsize ws = { (unsigned short)parse_u64(op, 1), (unsigned short)parse_u64(op, 2), 0, 0 };
	if (ws.ws_row > 0 && ws.ws_col > 0 && ioctl(master, TIOCSWINSZ, &ws) < 0)
		die_errno("set the pty size");
	if (op->argc > 3 && strcmp(op->argv[3], "console") == 0) {
		int f = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f >= 0)
			close(f);
		if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
			die_errno("bind %s on /dev/console", name);
	}
	send_line("pty %d", master);
	char c = 0;
	ssize_t r;
	do
		r = read(sync_fd, &c, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1 || c != 'G')
		_exit(1);
	close(master);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			die_errno("dup2 pty");
	if (slave > 2)
		close(slave);
}

int process_op(const struct op *op)
{
	const char *n = op->argv[0];
	if (strcmp(n, "args") == 0) {
		if (op->argc < 2)
			die("args: empty");
		args = op->argv + 1;
	} else if (strcmp(n, "env") == 0) {
		env = op->argv + 1;
		nenv = op->argc - 1;
	} else if (strcmp(n, "cwd") == 0) {
		cwd = op->argv[1];
	} else if (strcmp(n, "umask") == 0) {
		has_umask = 1;
		umask_value = (mode_t)parse_u64(op, 1);
	} else if (strcmp(n, "user") == 0) {
		if (op->argc < 3 || op->argc - 3 > MAX_GROUPS)
			die("user: bad operation");
		has_user = 1;
		uid = (uid_t)parse_u64(op, 1);
		gid = (gid_t)parse_u64(op, 2);
		ngroups = op->argc - 3;
		for (int i = 0; i < ngroups; i++)
			groups[i] = (gid_t)parse_u64(op, 3 + i);
	} else if (strcmp(n, "rlimit") == 0) {
		if (nrlimits == MAX_RLIMITS)
			die("rlimit: too many");
		rlimits[nrlimits].resource = (int)parse_u64(op, 1);
		rlimits[nrlimits].lim.rlim_cur = (rlim_t)parse_u64(op, 2);
		rlimits[nrlimits].lim.rlim_max = (rlim_t)parse_u64(op, 3);
		nrlimits++;
	} else if (strcmp(n, "caps") == 0) {
		has_caps = 1;
		cap_bounding = parse_u64(op, 1);
		cap_effective = parse_u64(op, 2);
		cap_permitted = parse_u64(op, 3);
		cap_inheritable = parse_u64(op, 4);
		cap_ambient = parse_u64(op, 5);
	} else if (strcmp(n, "preserve-fds") == 0) {
		preserve_fds = (int)parse_u64(op, 1);
		if (preserve_fds > 1000)
			die("preserve-fds: too many");
	} else if (strcmp(n, "nnp") == 0) {
		no_new_privs = 1;
	} else if (strcmp(n, "oom-score-adj") == 0) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, op->argv[1], strlen(op->argv[1])) < 0)
			die_errno("set oom_score_adj %s", op->argv[1]);
		close(fd);
	} else if (strcmp(n, "ctty") == 0) {
		if (ioctl(0, TIOCSCTTY, 0) < 0)
			die_errno("set controlling terminal");
	} else if (strcmp(n, "pty") == 0) {
		open_pty(op);
	} else if (strcmp(n, "fifo") == 0) {
		fifo_fd = open(op->argv[1], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fifo_fd < 0)
			die_errno("open exec fifo %s", op->argv[1]);
	} else {
		return 0;
	}
	return 1;
}

/* Moves fd to a number >= min (close-on-exec), closing the old one. */
static int move_fd_above(int fd, int min)
{
	if (fd < 0 || fd >= min)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, min);
	if (nfd < 0)
		die_errno("move fd %d", fd);
	close(fd);
	return nfd;
}

/*
 * Every descriptor but 0-2, the runtime's socket and the barrier is closed; those two are close-on-exec.
 * Preserved fds ("preserve-fds <n>": runc's --preserve-fds) arrive as 4..3+n, behind the socket, and are
 * moved down to 3..2+n once the socket and the barrier are out of the way.
 */
static void close_other_fds(void)
{
	int first_free = 4 + preserve_fds;
	sync_fd = move_fd_above(sync_fd, first_free);
	fifo_fd = move_fd_above(fifo_fd, first_free);
	int keep[2] = { sync_fd, fifo_fd };
	if (keep[1] >= 0 && keep[1] < keep[0]) {
		keep[0] = fifo_fd;
		keep[1] = sync_fd;
	}
	unsigned int from = (unsigned int)first_free;
	for (int i = 0; i < 2; i++) {
		if (keep[i] < 0)
			continue;
		if ((unsigned int)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned int)keep[i] - 1, 0);
		from = (unsigned int)keep[i] + 1;
	}
	if (syscall(SYS_close_range, from, ~0U, 0) < 0)
		die_errno("close_range");
	for (int i = 0; i < preserve_fds; i++)
		if (dup2(4 + i, 3 + i) < 0) /* dup2 leaves the copy inheritable */
			die_errno("preserve fd %d", 3 + i);
	if (preserve_fds > 0)
		close(3 + preserve_fds);
}

static void drop_bounding_set(void)
{
	for (int cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break; /* past the kernel's last capability */
		if (r == 1 && !(cap_bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			die_errno("drop capability %d from the bounding set", cap);
	}
}

static void apply_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(cap_effective >> (32 * i));
		data[i].permitted = (uint32_t)(cap_permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(cap_inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		die_errno("capset");
	for (int cap = 0; cap < 64; cap++)
		if ((cap_ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 &&
		    errno != EPERM)
			die_errno("raise ambient capability %d", cap);
	/* EPERM: the capability is not both permitted and inheritable; runc leaves it out silently too. */
}

static void switch_user(void)
{
	if (has_caps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_KEEPCAPS)");
	if (setgroups((size_t)ngroups, groups) < 0)
		die_errno("setgroups");
	if (setresgid(gid, gid, gid) < 0)
		die_errno("setgid %u", gid);
	if (setresuid(uid, uid, uid) < 0)
		die_errno("setuid %u", uid);
	if (has_caps && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_KEEPCAPS)");
}

static const char *env_value(const char *name)
{
	size_t len = strlen(name);
	for (int i = 0; i < nenv; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return env[i] + len + 1;
	return NULL;
}

/* The groups of the container's /etc/group that list `name`, added before the spec's (as runc does). */
static void add_member_groups(const char *name)
{
	FILE *f = fopen("/etc/group", "re");
	if (!f)
		return;
	gid_t spec_groups[MAX_GROUPS];
	int nspec = ngroups;
	memcpy(spec_groups, groups, sizeof(gid_t) * (size_t)ngroups);
	ngroups = 0;
	struct group *gr;
	while ((gr = fgetgrent(f)) != NULL && ngroups < MAX_GROUPS) {
		for (char **m = gr->gr_mem; m && *m; m++)
			if (strcmp(*m, name) == 0) {
				groups[ngroups++] = gr->gr_gid;
				break;
			}
	}
	fclose(f);
	for (int i = 0; i < nspec && ngroups < MAX_GROUPS; i++) {
		int dup = 0;
		for (int j = 0; j < ngroups; j++)
			dup |= groups[j] == spec_groups[i];
		if (!dup)
			groups[ngroups++] = spec_groups[i];
	}
}

/* HOME from the container's /etc/passwd when the spec does not set it, and the user's groups (as runc). */
static void add_home(void)
{
	const char *home = "/";
	FILE *f = fopen("/etc/passwd", "re");
	struct passwd *pw;
	if (f) {
		while ((pw = fgetpwent(f)) != NULL)
			if (pw->pw_uid == (has_user ? uid : getuid())) {
				home = pw->pw_dir;
				if (has_user)
					add_member_groups(pw->pw_name);
				break;
			}
	}
	if (env_value("HOME")) {
		if (f)
			fclose(f);
		return;
	}
	char **next = calloc((size_t)nenv + 2, sizeof(char *));
	for (int i = 0; i < nenv; i++)
		next[i] = env[i];
	if (asprintf(&next[nenv], "HOME=%s", home) < 0)
		die("out of memory");
	env = next;
	nenv++;
	if (f)
		fclose(f);
}

static int is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Resolves args[0] as execvp would, inside the container and as its user; dies like runc when missing. */
static const char *lookup_executable(void)
{
	if (strchr(args[0], '/')) {
		if (!is_executable(args[0]))
			die_errno("exec: \"%s\": stat %s", args[0], args[0]);
		return args[0];
	}
	const char *path = env_value("PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	static char candidate[PATH_MAX];
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, len ? path : ".", args[0]);
		if (is_executable(candidate))
			return candidate;
		path += len;
		if (*path == ':')
			path++;
	}
	die("exec: \"%s\": executable file not found in $PATH", args[0]);
}

static void wait_start_barrier(void)
{
	struct pollfd p = { fifo_fd, POLLIN, 0 };
	for (;;) {
		int r = poll(&p, 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die_errno("wait on the start barrier");
		break;
	}
	char c;
	if (read(fifo_fd, &c, 1) != 1)
		die("start barrier closed without a start");
	close(fifo_fd);
}

/*
 * Every signal back to its default and none blocked: ignored dispositions survive execve, and posix_spawn
 * leaves glibc's internal signals (32, 33) ignored in its child. The raw syscall, because glibc's
 * sigaction() refuses those two.
 */
static void reset_signals(void)
{
	struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } dfl = { SIG_DFL, 0, NULL, 0 };
	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void finalize_and_exec(int is_init)
{
	if (!args)
		die("no process args");
	close_other_fds();
	for (int i = 0; i < nrlimits; i++)
		if (setrlimit(rlimits[i].resource, &rlimits[i].lim) < 0)
			die_errno("setrlimit %d", rlimits[i].resource);
	if (has_umask)
		umask(umask_value);
	if (no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die_errno("prctl(PR_SET_NO_NEW_PRIVS)");
	/* CVE-2024-21626: a cwd reached through a leaked host descriptor is not under our root. Checked here,
	 * before a seccomp filter may deny getcwd(2); the chdir is done again as the user below. */
	char here[PATH_MAX];
	if (chdir(cwd) == 0 && (!getcwd(here, sizeof here) || here[0] != '/'))
		die("cwd %s is outside the container root", cwd);
	/* seccomp (seccomp.c): without no_new_privs loading needs CAP_SYS_ADMIN, so before the capabilities
	 * go (runc's order); with it, as late as possible: just before execve, below. */
	if (!no_new_privs)
		seccomp_apply();
	if (has_caps)
		drop_bounding_set();
	add_home();
	if (has_user)
		switch_user();
	if (chdir(cwd) < 0)
		die_errno("chdir to cwd (\"%s\") set in config.json", cwd);
	if (has_caps)
		apply_caps();
	const char *file = lookup_executable();
	if (is_init) {
		send_line("ready");
		if (fifo_fd >= 0)
			wait_start_barrier();
		hooks_after_start(); /* startContainer hooks (hooks.c) */
	}
	reset_signals();
	seccomp_apply();
	env[nenv] = NULL;
	execve(file, args, env);
	int saved = errno;
	send_line("error exec %s: %s", file, strerror(saved));
	dprintf(2, "berth-init: exec %s: %s\n", file, strerror(saved));
	_exit(127);
}
