/**
 * A representative Docker default seccomp profile, in the OCI form dockerd sends to containerd for a
 * container without extra capabilities: default action SCMP_ACT_ERRNO (EPERM), the x86 architectures, a
 * large allow list, personality() only with the usual personas, clone() only without namespace flags,
 * clone3() answered with ENOSYS (so libc falls back to clone). Namespaces, keyrings, mounts, modules, BPF,
 * reboot, time setting... are absent from the allow list, hence denied: unshare, setns, keyctl, add_key,
 * request_key, mount, umount2, pivot_root, bpf, init_module, reboot, clock_settime...
 *
 * Written from readable lists (grouped by purpose), not copied from moby's profiles/seccomp/default.json.
 */
import type { OciSeccomp, OciSyscall } from '../../native/runtime/seccomp';

const FILES = [
  'access', 'chdir', 'chmod', 'chown', 'chown32', 'close', 'close_range', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3',
  'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fchdir', 'fchmod', 'fchmodat', 'fchown', 'fchown32',
  'fchownat', 'fcntl', 'fcntl64', 'fdatasync', 'fgetxattr', 'flistxattr', 'flock', 'fremovexattr', 'fsetxattr', 'fstat',
  'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'getcwd', 'getdents', 'getdents64',
  'getxattr', 'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'lchown', 'lchown32', 'lgetxattr',
  'link', 'linkat', 'listxattr', 'llistxattr', 'lremovexattr', 'lseek', '_llseek', 'lsetxattr', 'lstat', 'lstat64', 'mkdir',
  'mkdirat', 'mknod', 'mknodat', 'newfstatat', 'open', 'openat', 'openat2', 'pread64', 'preadv', 'preadv2', 'pwrite64',
  'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'removexattr', 'rename', 'renameat',
  'renameat2', 'rmdir', 'sendfile', 'sendfile64', 'setxattr', 'splice', 'stat', 'stat64', 'statfs', 'statfs64', 'statx',
  'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'tee', 'truncate', 'truncate64', 'umask', 'unlink', 'unlinkat',
  'utime', 'utimensat', 'utimensat_time64', 'utimes', 'write', 'writev', 'memfd_create', 'fanotify_mark',
];

const PROCESSES = [
  'arch_prctl', 'capget', 'capset', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'getegid', 'getegid32',
  'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getpgid', 'getpgrp', 'getpid', 'getppid',
  'getpriority', 'getresgid', 'getresgid32', 'getresuid', 'getresuid32', 'getrlimit', 'getrusage', 'getsid', 'gettid',
  'getuid', 'getuid32', 'ioprio_get', 'ioprio_set', 'kill', 'membarrier', 'pidfd_open', 'pidfd_send_signal', 'pidfd_getfd',
  'prctl', 'prlimit64', 'ptrace', 'process_mrelease', 'restart_syscall', 'rseq', 'rt_sigaction', 'rt_sigpending',
  'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64',
  'rt_tgsigqueueinfo', 'sched_get_priority_max', 'sched_get_priority_min', 'sched_getaffinity', 'sched_getattr',
  'sched_getparam', 'sched_getscheduler', 'sched_rr_get_interval', 'sched_rr_get_interval_time64', 'sched_setaffinity',
  'sched_setattr', 'sched_setparam', 'sched_setscheduler', 'sched_yield', 'set_robust_list', 'get_robust_list',
  'set_tid_address', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32', 'setgroups', 'setgroups32',
  'setitimer', 'getitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32', 'setresgid', 'setresgid32', 'setresuid',
  'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'setsid', 'setuid', 'setuid32', 'sigaltstack', 'signalfd', 'signalfd4',
  'sigprocmask', 'sigreturn', 'tgkill', 'tkill', 'times', 'uname', 'wait4', 'waitid', 'waitpid', 'alarm', 'pause', 'capget',
  'seccomp', 'get_thread_area', 'set_thread_area', 'getcpu',
];

const MEMORY = [
  'brk', 'madvise', 'mincore', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect', 'mremap', 'msync', 'munlock',
  'munlockall', 'munmap', 'remap_file_pages', 'pkey_alloc', 'pkey_free', 'pkey_mprotect',
];

const IO_AND_TIME = [
  'clock_getres', 'clock_getres_time64', 'clock_gettime', 'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64',
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2', 'epoll_wait', 'epoll_wait_old',
  'eventfd', 'eventfd2', 'futex', 'futex_time64', 'futex_waitv', 'get_mempolicy', 'set_mempolicy', 'gettimeofday', 'io_cancel',
  'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'io_setup', 'io_submit', 'io_uring_enter',
  'io_uring_register', 'io_uring_setup', 'ioctl', 'nanosleep', 'pipe', 'pipe2', 'poll', 'ppoll', 'ppoll_time64', 'pselect6',
  'pselect6_time64', 'select', '_newselect', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun', 'timer_gettime',
  'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create', 'timerfd_gettime', 'timerfd_gettime64',
  'timerfd_settime', 'timerfd_settime64', 'sysinfo', 'syslog', 'getrandom', 'ugetrlimit', 'landlock_add_rule',
  'landlock_create_ruleset', 'landlock_restrict_self',
];

const IPC_AND_NET = [
  'accept', 'accept4', 'bind', 'connect', 'getpeername', 'getsockname', 'getsockopt', 'listen', 'recv', 'recvfrom',
  'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'send', 'sendmmsg', 'sendmsg', 'sendto', 'setsockopt', 'shutdown', 'socket',
  'socketcall', 'socketpair', 'ipc', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'mq_getsetattr', 'mq_notify', 'mq_open',
  'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'semctl', 'semget',
  'semop', 'semtimedop', 'semtimedop_time64', 'shmat', 'shmctl', 'shmdt', 'shmget',
];

const PERSONAS = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];
/** CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
const ENOSYS = 38;

export function dockerDefaultProfile(): OciSeccomp {
  const allow = [...new Set([...FILES, ...PROCESSES, ...MEMORY, ...IO_AND_TIME, ...IPC_AND_NET])].sort();
  const syscalls: OciSyscall[] = [
    { names: allow, action: 'SCMP_ACT_ALLOW', args: [] },
    ...PERSONAS.map((p): OciSyscall => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }] })),
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  ];
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}
