/*
 * Mount-namespace operations of the container init: preparing the rootfs, mounts, device nodes, /dev
 * links, the console, pivot_root, masked and read-only paths, sysctl, hostname.
 *
 * Every destination inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT) from a descriptor of the
 * rootfs: symlinks and ".." can never lead outside it. Missing directories are created one component at a
 * time inside the directory that was resolved so far. The mount itself targets /proc/self/fd/N of the
 * resolved descriptor, so no path is looked up again between the check and the use.
 *
 * Operations (fields are text; flags are decimal mount(2) flags computed by the runtime):
 *   propagation <flags>                      mount(NULL, "/", NULL, flags): e.g. MS_SLAVE|MS_REC
 *   rootfs <path>                            bind the rootfs onto itself (a mount point for pivot_root)
 *   mount <src> <dest> <type> <flags> <data> [<pflags>...]   (MS_BIND in flags: a bind; remounted with
 *                                            the other flags when there are any; pflags: propagation)
 *   remount <dest> <flags>                   mount(NULL, dest, NULL, MS_REMOUNT|flags)
 *   cgroup-bind <hierarchy mountpoint> <controllers as in /proc/self/cgroup> <dest> <flags>
 *   mkdir <dest> <mode>    mknod <dest> <c|b|p> <major> <minor> <mode> <uid> <gid>    symlink <target> <dest>
 *   console <pty slave path>                 bind the pty slave onto /dev/console
 *   pivot                                    pivot_root into the rootfs, old root detached
 *   mask <path>    readonly <path>    remount-root-ro    rootprop <flags>    (after pivot)
 *   sysctl <key> <value>    hostname <name>    domainname <name>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "berth-init.h"

static int rootfd = -1;
static const char *rootfs_path;

static int open_in_root(const char *path, int flags, unsigned long long extra_resolve)
{
	struct open_how how = { 0 };
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve;
	int fd;
	do
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
	while (fd < 0 && (errno == EAGAIN || errno == EINTR));
	return fd;
}

static void need_root(const char *what)
{
	if (rootfd < 0)
		die("%s: no rootfs prepared", what);
}

/*
 * Creates every missing directory of path inside the rootfs; returns an O_PATH fd of the last one. A
 * component that is a dangling symlink is followed inside the rootfs: its target is created instead (as
 * runc does), the walk restarting on the rewritten path (at most 40 times, like the kernel's link limit).
 */
static int mkdir_all_in_root_depth(const char *path, mode_t mode, int depth);

static int mkdir_all_in_root(const char *path, mode_t mode)
{
	return mkdir_all_in_root_depth(path, mode, 0);
}

static int mkdir_all_in_root_depth(const char *path, mode_t mode, int depth)
{
	if (depth > 40)
		die("mkdir %s in rootfs: too many levels of symbolic links", path);
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof buf)
		die("path too long: %s", path);
	strcpy(buf, path);
	int fd = open_in_root("/", O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		die_errno("open rootfs");
	char *p = buf;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *comp = p;
		while (*p && *p != '/')
			p++;
		char saved = *p;
		*p = 0;
		int nfd = open_in_root(buf, O_PATH | O_DIRECTORY, 0);
		if (nfd < 0 && errno == ENOENT) {
			if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
				die("mkdir %s: unexpected component %s", path, comp);
			if (mkdirat(fd, comp, mode) < 0 && errno != EEXIST)
				die_errno("mkdir %s in rootfs", buf);
			nfd = open_in_root(buf, O_PATH | O_DIRECTORY, 0);
			char target[PATH_MAX];
			ssize_t tlen;
			if (nfd < 0 && errno == ENOENT && (tlen = readlinkat(fd, comp, target, sizeof target - 1)) > 0) {
				/* A dangling symlink: rewrite the path through its target and start again. */
				target[tlen] = 0;
				char next[PATH_MAX];
				*comp = 0;
				int n = target[0] == '/' ? snprintf(next, sizeof next, "%s/%s", target, saved ? p + 1 : "")
							 : snprintf(next, sizeof next, "%s%s/%s", buf, target, saved ? p + 1 : "");
				if (n < 0 || (size_t)n >= sizeof next)
					die("mkdir %s in rootfs: path too long", path);
				close(fd);
				return mkdir_all_in_root_depth(next, mode, depth + 1);
			}
		}
		if (nfd < 0)
			die_errno("open %s in rootfs", buf);
		close(fd);
		fd = nfd;
		*p = saved;
	}
	return fd;
}

/* Makes sure dest exists inside the rootfs (a directory, or an empty file) and returns an O_PATH fd. */
static int ensure_target(const char *dest, int is_dir, unsigned long long extra_resolve)
{
	int fd = open_in_root(dest, O_PATH, extra_resolve);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		die_errno("open mount destination %s in rootfs", dest);
	if (is_dir) {
		close(mkdir_all_in_root(dest, 0755));
	} else {
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%s", dest);
		char *slash = strrchr(dir, '/');
		const char *base = slash ? slash + 1 : dir;
		if (slash)
			*slash = 0;
		if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
			die("mount destination %s: not a file name", dest);
		int parent = mkdir_all_in_root(dir, 0755);
		int f = openat(parent, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f < 0 && errno != EEXIST)
			die_errno("create mount destination %s in rootfs", dest);
		if (f >= 0)
			close(f);
		close(parent);
	}
	fd = open_in_root(dest, O_PATH, extra_resolve);
	if (fd < 0)
		die_errno("open mount destination %s in rootfs", dest);
	return fd;
}

static const char *fd_path(int fd)
{
	static char buf[2][64];
	static int which;
	which ^= 1;
	snprintf(buf[which], sizeof buf[which], "/proc/self/fd/%d", fd);
	return buf[which];
}

static void op_mount(const struct op *op)
{
	if (op->argc < 6)
		die("mount: bad operation");
	const char *src = op->argv[1], *dest = op->argv[2], *type = op->argv[3], *data = op->argv[5];
	unsigned long flags = (unsigned long)parse_u64(op, 4);
	need_root("mount");
	int is_bind = (flags & MS_BIND) != 0;
	int is_dir = 1;
	if (is_bind) {
		struct stat st;
		if (stat(src, &st) < 0)
			die_errno("bind mount source %s", src);
		is_dir = S_ISDIR(st.st_mode);
	}
	/* proc and sysfs must not land on a symlink (a rootfs whose /proc is a symlink is refused). */
	unsigned long long extra = 0;
	if (strcmp(type, "proc") == 0 || strcmp(type, "sysfs") == 0)
		extra = RESOLVE_NO_SYMLINKS;
	int fd = open_in_root(dest, O_PATH | O_NOFOLLOW, extra);
	struct stat lst;
	if ((fd < 0 && errno == ELOOP) || (fd >= 0 && fstat(fd, &lst) == 0 && S_ISLNK(lst.st_mode)))
		die("mount destination %s in rootfs is a symlink (refused for %s)", dest, type);
	if (fd >= 0)
		close(fd);
	fd = ensure_target(dest, is_dir, extra);
	unsigned long first = is_bind ? (flags & (MS_BIND | MS_REC)) : flags;
	if (mount(is_bind ? src : (*src ? src : type), fd_path(fd), is_bind ? NULL : type, first,
		  is_bind || !*data ? NULL : data) < 0)
		die_errno("mount %s on %s (%s)", src, dest, type);
	close(fd);
	/* Reopen: the old descriptor names the covered directory, not the new mount. */
	fd = open_in_root(dest, O_PATH, 0);
	if (fd < 0)
		die_errno("reopen %s", dest);
	unsigned long rest = flags & ~(unsigned long)(MS_BIND | MS_REC);
	if (is_bind && rest != 0 && mount(NULL, fd_path(fd), NULL, MS_BIND | MS_REMOUNT | rest, NULL) < 0)
		die_errno("remount bind %s", dest);
	for (int i = 6; i < op->argc; i++)
		if (mount(NULL, fd_path(fd), NULL, (unsigned long)parse_u64(op, i), NULL) < 0)
			die_errno("set propagation of %s", dest);
	close(fd);
}

static void op_cgroup_bind(const struct op *op)
{
	if (op->argc != 5)
		die("cgroup-bind: bad operation");
	const char *mnt = op->argv[1], *controllers = op->argv[2], *dest = op->argv[3];
	unsigned long flags = (unsigned long)parse_u64(op, 4);
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		die_errno("open /proc/self/cgroup");
	char line[4096], src[PATH_MAX + 4096] = "";
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		if (strcmp(c1 + 1, controllers) == 0) {
			snprintf(src, sizeof src, "%s%s", mnt, c2 + 1);
			break;
		}
	}
	fclose(f);
	if (!*src)
		die("cgroup-bind: no hierarchy %s in /proc/self/cgroup", controllers);
	need_root("cgroup-bind");
	int fd = ensure_target(dest, 1, 0);
	if (mount(src, fd_path(fd), NULL, MS_BIND | MS_REC, NULL) < 0)
		die_errno("bind cgroup %s on %s", src, dest);
	close(fd);
	fd = open_in_root(dest, O_PATH, 0);
	if (fd < 0)
		die_errno("reopen %s", dest);
	if (flags && mount(NULL, fd_path(fd), NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
		die_errno("remount cgroup %s", dest);
	close(fd);
}

static void split_parent(const char *path, char *dir, size_t size, const char **base)
{
	snprintf(dir, size, "%s", path);
	char *slash = strrchr(dir, '/');
	*base = slash ? slash + 1 : dir;
	if (slash)
		*slash = 0;
	if (!**base || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0)
		die("%s: not a file name", path);
}

static void op_mknod(const struct op *op)
{
	if (op->argc != 8)
		die("mknod: bad operation");
	need_root("mknod");
	char dir[PATH_MAX];
	const char *base;
	split_parent(op->argv[1], dir, sizeof dir, &base);
	mode_t type = op->argv[2][0] == 'b' ? S_IFBLK : op->argv[2][0] == 'p' ? S_IFIFO : S_IFCHR;
	dev_t dev = makedev((unsigned)parse_u64(op, 3), (unsigned)parse_u64(op, 4));
	mode_t mode = (mode_t)parse_u64(op, 5) & 07777;
	int parent = mkdir_all_in_root(dir, 0755);
	int pfd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		die_errno("open %s", dir);
	if (mknodat(pfd, base, type | mode, dev) < 0) {
		if (errno == EEXIST)
			goto out;
		if (errno != EPERM)
			die_errno("mknod %s", op->argv[1]);
		/* No right to create device nodes (a user namespace): bind the host's node instead. */
		int f = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (f < 0)
			die_errno("create %s", op->argv[1]);
		close(f);
		int fd = open_in_root(op->argv[1], O_PATH, 0);
		if (fd < 0 || mount(op->argv[1], fd_path(fd), NULL, MS_BIND, NULL) < 0)
			die_errno("bind device %s", op->argv[1]);
		close(fd);
		goto out;
	}
	if (fchmodat(pfd, base, mode, 0) < 0) /* mknod is subject to the umask */
		die_errno("chmod %s", op->argv[1]);
	if (fchownat(pfd, base, (uid_t)parse_u64(op, 6), (gid_t)parse_u64(op, 7), AT_SYMLINK_NOFOLLOW) < 0)
		die_errno("chown %s", op->argv[1]);
out:
	close(pfd);
	close(parent);
}

static void op_symlink(const struct op *op)
{
	if (op->argc != 3)
		die("symlink: bad operation");
	need_root("symlink");
	char dir[PATH_MAX];
	const char *base;
	split_parent(op->argv[2], dir, sizeof dir, &base);
	int parent = mkdir_all_in_root(dir, 0755);
	int pfd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		die_errno("open %s", dir);
	if (symlinkat(op->argv[1], pfd, base) < 0 && errno != EEXIST)
		die_errno("symlink %s", op->argv[2]);
	close(pfd);
	close(parent);
}

static void op_pivot(void)
{
	need_root("pivot");
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	int newroot = open(rootfs_path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0 || newroot < 0)
		die_errno("open roots for pivot_root");
	if (fchdir(newroot) < 0)
		die_errno("chdir %s", rootfs_path);
	/* pivot_root(".", "."): the old root is stacked under the new one, then detached from ".". */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die_errno("pivot_root %s", rootfs_path);
	if (fchdir(oldroot) < 0)
		die_errno("chdir old root");
	/* Make sure nothing we unmount propagates back to the host. */
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		die_errno("make old root slave");
	if (umount2(".", MNT_DETACH) < 0)
		die_errno("detach old root");
	if (chdir("/") < 0)
		die_errno("chdir /");
	close(oldroot);
	close(newroot);
	close(rootfd);
	rootfd = -1;
	pivoted = 1;
}

static unsigned long mount_flags_of(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return 0;
	unsigned long f = 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static void op_mask(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return;
		die_errno("mask %s", path);
	}
	int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL)
				    : mount("/dev/null", path, NULL, MS_BIND, NULL);
	if (r < 0)
		die_errno("mask %s", path);
}

static void op_readonly(const char *path)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return;
		die_errno("bind %s read-only", path);
	}
	if (mount(path, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | mount_flags_of(path), NULL) < 0)
		die_errno("remount %s read-only", path);
}

static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		die_errno("open %s", path);
	size_t len = strlen(value);
	if (write(fd, value, len) != (ssize_t)len)
		die_errno("write %s", path);
	close(fd);
}

int rootfs_op(const struct op *op)
{
	const char *n = op->argv[0];
	if (strcmp(n, "propagation") == 0 || strcmp(n, "rootprop") == 0) {
		if (mount(NULL, "/", NULL, (unsigned long)parse_u64(op, 1), NULL) < 0)
			die_errno("set propagation of /");
	} else if (strcmp(n, "rootfs") == 0) {
		if (op->argc != 2)
			die("rootfs: bad operation");
		rootfs_path = op->argv[1];
		if (mount(rootfs_path, rootfs_path, NULL, MS_BIND | MS_REC, NULL) < 0)
			die_errno("bind rootfs %s", rootfs_path);
		rootfd = open(rootfs_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			die_errno("open rootfs %s", rootfs_path);
	} else if (strcmp(n, "mount") == 0) {
		op_mount(op);
	} else if (strcmp(n, "remount") == 0) {
		need_root("remount");
		int fd = open_in_root(op->argv[1], O_PATH, 0);
		if (fd < 0 || mount(NULL, fd_path(fd), NULL, MS_REMOUNT | (unsigned long)parse_u64(op, 2), NULL) < 0)
			die_errno("remount %s", op->argv[1]);
		close(fd);
	} else if (strcmp(n, "cgroup-bind") == 0) {
		op_cgroup_bind(op);
	} else if (strcmp(n, "mkdir") == 0) {
		need_root("mkdir");
		close(mkdir_all_in_root(op->argv[1], (mode_t)parse_u64(op, 2)));
	} else if (strcmp(n, "mknod") == 0) {
		op_mknod(op);
	} else if (strcmp(n, "symlink") == 0) {
		op_symlink(op);
	} else if (strcmp(n, "console") == 0) {
		need_root("console");
		int fd = ensure_target("/dev/console", 0, 0);
		if (mount(op->argv[1], fd_path(fd), NULL, MS_BIND, NULL) < 0)
			die_errno("bind %s on /dev/console", op->argv[1]);
		close(fd);
	} else if (strcmp(n, "pivot") == 0) {
		op_pivot();
	} else if (strcmp(n, "mask") == 0) {
		op_mask(op->argv[1]);
	} else if (strcmp(n, "readonly") == 0) {
		op_readonly(op->argv[1]);
	} else if (strcmp(n, "remount-root-ro") == 0) {
		if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | mount_flags_of("/"), NULL) < 0)
			die_errno("remount / read-only");
	} else if (strcmp(n, "sysctl") == 0) {
		char path[PATH_MAX];
		int len = snprintf(path, sizeof path, "/proc/sys/%s", op->argv[1]);
		for (int i = 10; i < len; i++)
			if (path[i] == '.')
				path[i] = '/';
		write_file(path, op->argv[2]);
	} else if (strcmp(n, "hostname") == 0) {
		if (sethostname(op->argv[1], strlen(op->argv[1])) < 0)
			die_errno("sethostname %s", op->argv[1]);
	} else if (strcmp(n, "domainname") == 0) {
		if (setdomainname(op->argv[1], strlen(op->argv[1])) < 0)
			die_errno("setdomainname %s", op->argv[1]);
	} else {
		return 0;
	}
	return 1;
}
