/**
 * The OCI spec that ctr 1.6 builds for `ctr run|containers create --rootfs DIR ID CMD...`: containerd's
 * oci.WithDefaultSpec (populateDefaultUnixSpec) + WithDefaultUnixDevices, then the options ctr applies in
 * cmd/ctr/commands/run/run_unix.go NewContainer, in the same order. The result goes through the spec's Go
 * struct schema so its JSON is byte for byte what ctr stores.
 */
import { goSpecValue } from './schema';
import { goMarshal } from '../format/gojson';

export const OCI_VERSION = '1.0.2-dev';

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}
export interface LinuxNamespace {
  type: string;
  path?: string;
}
export interface DeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}
export interface Process {
  terminal?: boolean;
  user: { uid: number; gid: number };
  args?: string[];
  env?: string[];
  cwd: string;
  capabilities?: { bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[] };
  rlimits?: { type: string; hard: number; soft: number }[];
  noNewPrivileges?: boolean;
  [key: string]: unknown;
}
export interface Resources {
  devices?: DeviceCgroup[];
  memory?: { limit?: number; [key: string]: unknown };
  cpu?: { shares?: number; quota?: number; period?: number; [key: string]: unknown };
  [key: string]: unknown;
}
export interface OciSpec {
  ociVersion: string;
  process?: Process;
  root?: { path: string; readonly?: boolean };
  mounts?: Mount[];
  annotations?: Record<string, string>;
  linux?: {
    resources?: Resources;
    cgroupsPath?: string;
    namespaces?: LinuxNamespace[];
    rootfsPropagation?: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const LINUX_NAMESPACE_TYPES = ['pid', 'network', 'uts', 'mount', 'user', 'ipc', 'cgroup'];

/** containerd oci/mounts.go defaultMounts(). */
export function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  ];
}

/** oci.WithDefaultUnixDevices: /dev/null, random, full, tty, zero, urandom, console, pts/*, ptmx. */
function defaultDeviceRules(): DeviceCgroup[] {
  const c = (major: number, minor?: number): DeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [c(1, 3), c(1, 8), c(1, 7), c(5, 0), c(1, 5), c(1, 9), c(5, 1), c(136), c(5, 2)];
}

/** populateDefaultUnixSpec(ns, id) followed by WithDefaultUnixDevices. */
export function defaultUnixSpec(namespace: string, id: string): OciSpec {
  return {
    ociVersion: OCI_VERSION,
    root: { path: 'rootfs' },
    process: {
      cwd: '/',
      noNewPrivileges: true,
      user: { uid: 0, gid: 0 },
      capabilities: { bounding: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    },
    linux: {
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      cgroupsPath: `/${namespace}/${id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }, ...defaultDeviceRules()] },
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
    },
    mounts: defaultMounts(),
  };
}

/** containerd's replaceOrAppendEnvValues: KEY=V replaces or appends, a bare KEY removes. */
export function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const results = [...defaults];
  const index = new Map<string, number>();
  defaults.forEach((e, i) => index.set(e.split('=')[0], i));
  for (const value of overrides) {
    const eq = value.indexOf('=');
    if (eq < 0) {
      const i = index.get(value);
      if (i !== undefined) results[i] = '';
      continue;
    }
    const i = index.get(value.slice(0, eq));
    if (i !== undefined) results[i] = value;
    else results.push(value);
  }
  return results.filter((e) => e !== '');
}

/** What the command line asked for (already parsed; names follow ctr's flags). */
export interface SpecRequest {
  namespace: string;
  id: string;
  /** Absolute rootfs path (`filepath.Abs` of the first argument). */
  rootfs: string;
  args: string[];
  /** Lines of --env-file, applied before --env. */
  envFile?: string[];
  env?: string[];
  mounts?: Mount[];
  readOnly?: boolean;
  cwd?: string;
  tty?: boolean;
  netHost?: { hostname: string };
  annotations?: Record<string, string>;
  capAdd?: string[];
  capDrop?: string[];
  /** --cpus (run only). */
  cpus?: number;
  /** --cpu-shares (run only; ctr's default 1024 is applied whenever the flag exists). */
  cpuShares?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  withNamespaces?: LinuxNamespace[];
  allowNewPrivileges?: boolean;
  /** --cgroup: undefined leaves the default `/<ns>/<id>`; '' disables. */
  cgroup?: string;
  memoryLimit?: number;
  rootfsPropagation?: string;
  /** Container labels: ctr also copies them into the spec's annotations, last. */
  labels?: Record<string, string>;
}

function capsOf(spec: OciSpec): NonNullable<Process['capabilities']> {
  spec.process!.capabilities ??= {};
  return spec.process!.capabilities;
}

function cpuOf(spec: OciSpec): NonNullable<Resources['cpu']> {
  spec.linux!.resources ??= {};
  spec.linux!.resources.cpu ??= {};
  return spec.linux!.resources.cpu;
}

export function isLinuxNamespaceType(t: string): boolean {
  return LINUX_NAMESPACE_TYPES.includes(t);
}

/** Builds the spec as a plain object (not yet in Go key order; see specJson). */
export function buildSpec(r: SpecRequest): OciSpec {
  const s = defaultUnixSpec(r.namespace, r.id);
  const p = s.process!;
  const linux = s.linux!;
  if (r.envFile && r.envFile.length > 0) p.env = replaceOrAppendEnv(p.env ?? [], r.envFile);
  if (r.env && r.env.length > 0) p.env = replaceOrAppendEnv(p.env ?? [], r.env);
  if (r.mounts) s.mounts = [...(s.mounts ?? []), ...r.mounts];
  s.root = { path: r.rootfs };
  if (r.readOnly) s.root.readonly = true;
  if (r.args.length > 0) p.args = [...r.args];
  if (r.cwd) p.cwd = r.cwd;
  if (r.tty) {
    p.terminal = true;
    p.env = [...(p.env ?? []), 'TERM=xterm'];
  }
  if (r.netHost) {
    linux.namespaces = linux.namespaces!.filter((n) => n.type !== 'network');
    s.mounts!.push(
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
    );
    p.env = replaceOrAppendEnv(p.env ?? [], [`HOSTNAME=${r.netHost.hostname}`]);
  }
  if (r.annotations) s.annotations = { ...(s.annotations ?? {}), ...r.annotations };
  for (const cap of r.capAdd ?? []) {
    const caps = capsOf(s);
    for (const set of ['bounding', 'effective', 'permitted'] as const) {
      caps[set] ??= [];
      if (!caps[set]!.includes(cap)) caps[set]!.push(cap);
    }
  }
  for (const cap of r.capDrop ?? []) {
    const caps = capsOf(s);
    for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = (caps[set] ?? []).filter((c) => c !== cap);
  }
  if (r.cpus !== undefined && r.cpus > 0) Object.assign(cpuOf(s), { quota: Math.trunc(r.cpus * 100000), period: 100000 });
  if (r.cpuShares !== undefined && r.cpuShares > 0) cpuOf(s).shares = r.cpuShares;
  const quota = r.cpuQuota ?? -1;
  const period = r.cpuPeriod ?? 0;
  if (quota !== -1 || period !== 0) Object.assign(cpuOf(s), { quota, period });
  for (const ns of r.withNamespaces ?? []) {
    const i = linux.namespaces!.findIndex((n) => n.type === ns.type);
    if (i >= 0) linux.namespaces![i] = ns;
    else linux.namespaces!.push(ns);
  }
  if (r.allowNewPrivileges) p.noNewPrivileges = false;
  if (r.cgroup !== undefined) linux.cgroupsPath = r.cgroup;
  if (r.memoryLimit) {
    linux.resources ??= {};
    linux.resources.memory = { ...(linux.resources.memory ?? {}), limit: r.memoryLimit };
  }
  if (r.rootfsPropagation) linux.rootfsPropagation = r.rootfsPropagation;
  if (r.labels) s.annotations = { ...(s.annotations ?? {}), ...r.labels };
  return s;
}

/** The spec's JSON exactly as ctr's Go code marshals it into the container's spec Any. */
export function specJson(spec: OciSpec): string {
  return goMarshal(goSpecValue(spec));
}
