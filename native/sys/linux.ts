/**
 * The one syscall seam of Berth: the only file that imports koffi. Every function here is safe to call from
 * the multi-threaded Node process (nothing here changes namespaces, root or credentials of the caller).
 *
 * koffi and libc are loaded lazily, on the first call, so importing native/ costs nothing at startup.
 * Failures throw a Node-style errno error (`err.code === 'ENOENT'`, `err.errno`, `err.syscall`).
 */
import { constants as osConstants } from 'node:os';
import type * as KoffiModule from 'koffi';

type Koffi = typeof KoffiModule;
type Fn = (...args: any[]) => any;

interface Libc {
  koffi: Koffi;
  prctl: Fn;
  waitpid: Fn;
  kill: Fn;
  posix_openpt: Fn;
  grantpt: Fn;
  unlockpt: Fn;
  ptsname_r: Fn;
  ioctl_winsize: Fn;
  mount: Fn;
  umount2: Fn;
  syscall_int: Fn;
  syscall_3: Fn;
  memfd_create: Fn;
  fcntl_int: Fn;
  mkfifo: Fn;
  socket: Fn;
  connect: Fn;
  sendmsg: Fn;
  recvmsg: Fn;
  close: Fn;
  socketpair: Fn;
  posix_spawn: Fn;
  fa_init: Fn;
  fa_adddup2: Fn;
  fa_addclose: Fn;
  fa_destroy: Fn;
  attr_init: Fn;
  attr_setflags: Fn;
  attr_setsigdefault: Fn;
  attr_setsigmask: Fn;
  attr_destroy: Fn;
  sigfillset: Fn;
  sigemptyset: Fn;
  malloc_trim: Fn;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as Koffi;
  const lib = koffi.load('libc.so.6');
  koffi.struct('berth_winsize', { ws_row: 'uint16', ws_col: 'uint16', ws_xpixel: 'uint16', ws_ypixel: 'uint16' });
  koffi.struct('berth_iovec', { base: 'void *', len: 'size_t' });
  koffi.struct('berth_msghdr', {
    name: 'void *', namelen: 'uint32', iov: 'berth_iovec *', iovlen: 'size_t', control: 'void *', controllen: 'size_t', flags: 'int',
  });
  libc = {
    koffi,
    prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
    kill: lib.func('int kill(int pid, int sig)'),
    posix_openpt: lib.func('int posix_openpt(int flags)'),
    grantpt: lib.func('int grantpt(int fd)'),
    unlockpt: lib.func('int unlockpt(int fd)'),
    ptsname_r: lib.func('int ptsname_r(int fd, _Out_ uint8_t *buf, size_t len)'),
    ioctl_winsize: lib.func('int ioctl(int fd, unsigned long req, const berth_winsize *ws)'),
    mount: lib.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const char *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    syscall_int: lib.func('long syscall(long nr, int a1, unsigned int a2)'),
    syscall_3: lib.func('long syscall(long nr, int a1, int a2, unsigned int a3)'),
    memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)'),
    fcntl_int: lib.func('int fcntl(int fd, int cmd, int arg)'),
    mkfifo: lib.func('int mkfifo(const char *path, unsigned int mode)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    connect: lib.func('int connect(int fd, const void *addr, uint32 len)'),
    sendmsg: lib.func('long sendmsg(int fd, const berth_msghdr *msg, int flags)'),
    recvmsg: lib.func('long recvmsg(int fd, berth_msghdr *msg, int flags)'),
    close: lib.func('int close(int fd)'),
    socketpair: lib.func('int socketpair(int domain, int type, int protocol, int *sv)'),
    posix_spawn: lib.func('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
    fa_init: lib.func('int posix_spawn_file_actions_init(void *fa)'),
    fa_adddup2: lib.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    fa_addclose: lib.func('int posix_spawn_file_actions_addclose(void *fa, int fd)'),
    fa_destroy: lib.func('int posix_spawn_file_actions_destroy(void *fa)'),
    attr_init: lib.func('int posix_spawnattr_init(void *attr)'),
    attr_setflags: lib.func('int posix_spawnattr_setflags(void *attr, short flags)'),
    attr_setsigdefault: lib.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
    attr_setsigmask: lib.func('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
    attr_destroy: lib.func('int posix_spawnattr_destroy(void *attr)'),
    sigfillset: lib.func('int sigfillset(void *set)'),
    sigemptyset: lib.func('int sigemptyset(void *set)'),
    malloc_trim: lib.func('int malloc_trim(size_t pad)'),
  };
  return libc;
}

const errnoNames: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.errno).map(([name, num]) => [num, name]),
);

/** A Node-style errno error for the failed libc call `syscall` (reads koffi's saved errno). */
function errnoError(syscall: string, detail?: string): NodeJS.ErrnoException {
  const num = load().koffi.errno();
  const code = errnoNames[num] ?? `E${num}`;
  const err = new Error(`${syscall}${detail ? ' ' + detail : ''}: ${code}`) as NodeJS.ErrnoException;
  err.errno = num;
  err.code = code;
  err.syscall = syscall;
  return err;
}

function check(ret: number, syscall: string, detail?: string): number {
  if (ret < 0) throw errnoError(syscall, detail);
  return ret;
}

export const PR_SET_CHILD_SUBREAPER = 36;
export const PR_GET_CHILD_SUBREAPER = 37;
export const WNOHANG = 1;

/**
 * glibc malloc_trim(0): gives the free memory of every malloc arena back to the kernel (not only the top of the
 * heap). V8 compiles and parses through malloc; its freed zones otherwise stay resident. Returns whether any
 * memory was released.
 */
export function mallocTrim(): boolean {
  return load().malloc_trim(0) === 1;
}

export function prctl(option: number, arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0): number {
  return check(load().prctl(option, arg2, arg3, arg4, arg5), 'prctl');
}

/** Makes the calling process a child subreaper: orphaned descendants are re-parented to it. */
export function setChildSubreaper(): void {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/** The result of waitpid: `pid` 0 when WNOHANG and the child has not changed state. */
export interface WaitResult {
  pid: number;
  status: number;
}

export function waitpid(pid: number, options = 0): WaitResult {
  const status = [0];
  const r = load().waitpid(pid, status, options) as number;
  check(r, 'waitpid', String(pid));
  return { pid: r, status: status[0]! };
}

/** Decodes a wait status: the exit code, or the signal number that killed the process. */
export function decodeWaitStatus(status: number): { code?: number; signal?: number } {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff };
  if (sig !== 0x7f) return { signal: sig };
  return {}; // stopped: not an exit
}

export function kill(pid: number, signal: number): void {
  check(load().kill(pid, signal), 'kill', String(pid));
}

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;

/** Opens a new pty master (close-on-exec) and returns it with the path of its slave. */
export function openPtyMaster(): { master: number; slavePath: string } {
  const c = load();
  const master = check(c.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), 'posix_openpt');
  try {
    check(c.grantpt(master), 'grantpt');
    check(c.unlockpt(master), 'unlockpt');
    const buf = Buffer.alloc(128);
    const r = c.ptsname_r(master, buf, buf.length) as number;
    if (r !== 0) throw errnoError('ptsname_r');
    const slavePath = buf.subarray(0, buf.indexOf(0)).toString();
    return { master, slavePath };
  } catch (err) {
    closeFd(master);
    throw err;
  }
}

function closeFd(fd: number): void {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('node:fs') as typeof import('node:fs')).closeSync(fd);
  } catch {}
}

const TIOCSWINSZ = 0x5414;

/** Sets the window size of a terminal (pty master or slave). */
export function setWindowSize(fd: number, cols: number, rows: number): void {
  check(load().ioctl_winsize(fd, TIOCSWINSZ, { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 }), 'ioctl', 'TIOCSWINSZ');
}

export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
  check(load().mount(source, target, fstype, flags, data), 'mount', target);
}

export const MNT_DETACH = 2;
export function umount2(target: string, flags: number): void {
  check(load().umount2(target, flags), 'umount2', target);
}

const SYS_pidfd_open = 434;
/** A pidfd for pid (close-on-exec), to signal or poll a process without pid-reuse races. */
export function pidfdOpen(pid: number): number {
  return check(Number(load().syscall_int(SYS_pidfd_open, pid, 0)), 'pidfd_open', String(pid));
}

const SYS_pidfd_getfd = 438;
/** A copy (close-on-exec) of descriptor `targetFd` of the process behind `pidfd` (needs ptrace rights). */
export function pidfdGetfd(pidfd: number, targetFd: number): number {
  return check(Number(load().syscall_3(SYS_pidfd_getfd, pidfd, targetFd, 0)), 'pidfd_getfd', String(targetFd));
}

/** A copy of descriptor `fd` of process `pid`. */
export function copyFdOf(pid: number, fd: number): number {
  const pidfd = pidfdOpen(pid);
  try {
    return pidfdGetfd(pidfd, fd);
  } finally {
    closeFd(pidfd);
  }
}

const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const MFD_EXEC = 0x10;
const F_ADD_SEALS = 1033;
const F_SEAL_SEAL = 1;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;
const F_SEAL_WRITE = 8;

/** A close-on-exec memfd that can be sealed; asks for an executable one where the kernel knows MFD_EXEC. */
export function memfdCreate(name: string): number {
  const c = load();
  let fd = c.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC) as number;
  if (fd < 0 && c.koffi.errno() === osConstants.errno.EINVAL) fd = c.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  return check(fd, 'memfd_create', name);
}

/** Seals a memfd against every change: no write, no resize, no further seal. */
export function sealMemfd(fd: number): void {
  check(load().fcntl_int(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), 'fcntl', 'F_ADD_SEALS');
}

export function mkfifo(path: string, mode: number): void {
  check(load().mkfifo(path, mode), 'mkfifo', path);
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** CMSG_SPACE(sizeof(int)) and CMSG_LEN(sizeof(int)) on 64-bit Linux */
const CMSG_SPACE_INT = 24;
const CMSG_LEN_INT = 20;

function unixAddress(path: string): Buffer {
  const addr = Buffer.alloc(110); // sockaddr_un: sa_family_t + sun_path[108]
  if (Buffer.byteLength(path) > 107) throw Object.assign(new Error(`connect ${path}: ENAMETOOLONG`), { code: 'ENAMETOOLONG' });
  addr.writeUInt16LE(AF_UNIX, 0);
  addr.write(path, 2);
  return addr;
}

/**
 * Sends `fd` over a new connection to the unix stream socket at `socketPath` (SCM_RIGHTS), with `name` as
 * the message's data, then closes the connection: runc's --console-socket protocol (the pty master, named
 * by its slave's path). Blocking but bounded: a local connect and one small message.
 */
export function sendFdToSocket(socketPath: string, fd: number, name: string): void {
  const c = load();
  const sock = check(c.socket(AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0), 'socket');
  try {
    check(c.connect(sock, unixAddress(socketPath), 110), 'connect', socketPath);
    const data = Buffer.from(name || ' ');
    const control = Buffer.alloc(CMSG_SPACE_INT);
    control.writeBigUInt64LE(BigInt(CMSG_LEN_INT), 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(SCM_RIGHTS, 12);
    control.writeInt32LE(fd, 16);
    const msg = { name: null, namelen: 0, iov: [{ base: data, len: data.length }], iovlen: 1, control, controllen: control.length, flags: 0 };
    check(Number(c.sendmsg(sock, msg, MSG_NOSIGNAL)), 'sendmsg', socketPath);
  } finally {
    c.close(sock);
  }
}

/**
 * Receives one descriptor sent with SCM_RIGHTS on the connected socket `sock`, without blocking: null when
 * nothing has arrived yet (EAGAIN). The received fd is close-on-exec; `data` is the message's payload.
 */
export function receiveFd(sock: number): { fd: number; data: string } | null {
  const c = load();
  const data = Buffer.alloc(4096);
  const control = Buffer.alloc(CMSG_SPACE_INT);
  const msg = { name: null, namelen: 0, iov: [{ base: data, len: data.length }], iovlen: 1, control, controllen: control.length, flags: 0 };
  const MSG_CMSG_CLOEXEC = 0x40000000;
  const n = Number(c.recvmsg(sock, msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
  if (n < 0) {
    if (c.koffi.errno() === osConstants.errno.EAGAIN) return null;
    throw errnoError('recvmsg');
  }
  if (control.readInt32LE(8) !== SOL_SOCKET || control.readInt32LE(12) !== SCM_RIGHTS) {
    throw Object.assign(new Error('recvmsg: no descriptor in the message'), { code: 'EBADMSG' });
  }
  return { fd: control.readInt32LE(16), data: data.subarray(0, n).toString() };
}

/** A connected pair of unix stream sockets, both close-on-exec. */
export function socketPair(): [number, number] {
  const sv = new Int32Array(2);
  check(load().socketpair(AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0, sv), 'socketpair');
  return [sv[0]!, sv[1]!];
}

// Opaque glibc types, allocated larger than their x86_64/aarch64 sizes (80, 336 and 128 bytes).
const FILE_ACTIONS_SIZE = 256;
const SPAWNATTR_SIZE = 512;
const SIGSET_SIZE = 128;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;

/**
 * posix_spawn(3): starts `path` with `argv` and `env`, child fd i being a copy of `fds[i]`; every other fd of
 * ours is close-on-exec already. Every signal is reset to its default and none is blocked (Node ignores
 * SIGPIPE: an ignored disposition would survive exec). glibc runs the child on its own stack with
 * CLONE_VM|CLONE_VFORK, so this costs a fraction of child_process.spawn, which forks the whole Node process
 * (~0.5 ms against ~2.5 ms here); the caller reaps the child (it is not libuv's).
 */
export function posixSpawn(path: string, argv: readonly string[], env: readonly string[], fds: readonly number[]): number {
  const c = load();
  const fa = Buffer.alloc(FILE_ACTIONS_SIZE);
  const attr = Buffer.alloc(SPAWNATTR_SIZE);
  const all = Buffer.alloc(SIGSET_SIZE);
  const none = Buffer.alloc(SIGSET_SIZE);
  const spawnCheck = (r: number, what: string): void => {
    if (r !== 0) {
      const code = errnoNames[r] ?? `E${r}`;
      throw Object.assign(new Error(`${what} ${path}: ${code}`), { errno: r, code, syscall: what });
    }
  };
  spawnCheck(c.fa_init(fa), 'posix_spawn_file_actions_init');
  spawnCheck(c.attr_init(attr), 'posix_spawnattr_init');
  try {
    // Through temporaries above every source, so that no source is overwritten before it is copied.
    const base = Math.max(...fds, fds.length) + 1;
    fds.forEach((fd, i) => spawnCheck(c.fa_adddup2(fa, fd, base + i), 'posix_spawn_file_actions_adddup2'));
    fds.forEach((_, i) => spawnCheck(c.fa_adddup2(fa, base + i, i), 'posix_spawn_file_actions_adddup2'));
    fds.forEach((_, i) => spawnCheck(c.fa_addclose(fa, base + i), 'posix_spawn_file_actions_addclose'));
    c.sigfillset(all);
    c.sigemptyset(none);
    spawnCheck(c.attr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK), 'posix_spawnattr_setflags');
    spawnCheck(c.attr_setsigdefault(attr, all), 'posix_spawnattr_setsigdefault');
    spawnCheck(c.attr_setsigmask(attr, none), 'posix_spawnattr_setsigmask');
    const pid = [0];
    spawnCheck(c.posix_spawn(pid, path, fa, attr, [...argv, null], [...env, null]), 'posix_spawn');
    return pid[0]!;
  } finally {
    c.fa_destroy(fa);
    c.attr_destroy(attr);
  }
}
