/**
 * What the benchmark runs: a busybox root filesystem shared by every container, and the minimal OCI
 * spec containerd's client would generate for it (oci.populateDefaultUnixSpec of containerd 1.6), packed as
 * the Any that `Containers.Create` carries. Both daemons receive byte-identical specs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { OCI_SPEC_TYPE_URL, packJsonAny, type AnyMessage } from '../proto/any';

export const RUNTIME_NAME = 'io.containerd.runc.v2';

const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * Builds a busybox rootfs in `dir`: test/helpers/rootfs.ts `makeBusyboxRootfs` when that helper exists,
 * otherwise /bin/busybox with one RELATIVE symlink per applet (`busybox --install -s` would write absolute
 * host paths that do not resolve inside the container).
 */
export async function makeRootfs(dir: string): Promise<void> {
  const helper = path.join(__dirname, '../test/helpers/rootfs.js');
  if (fs.existsSync(helper)) {
    const mod = (await import(pathToFileURL(helper).href)) as { makeBusyboxRootfs?: (d: string) => unknown };
    if (typeof mod.makeBusyboxRootfs === 'function') {
      await mod.makeBusyboxRootfs(dir);
      return;
    }
  }
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) {
    if (a !== 'busybox') fs.symlinkSync('busybox', path.join(bin, a));
  }
  for (const d of ['proc', 'dev', 'sys', 'run', 'tmp', 'etc', 'root']) fs.mkdirSync(path.join(dir, d), { recursive: true });
}

/** The OCI spec for `args` in `rootfs`, with the cgroup `/<cgroupParent>/<id>` (what containerd's client sets). */
export function ociSpec(rootfs: string, args: string[], cgroupParent: string, id: string): object {
  return {
    ociVersion: '1.0.2-dev',
    root: { path: rootfs, readonly: false },
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: '/',
      capabilities: { bounding: CAPS, permitted: CAPS, effective: CAPS },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    hostname: id.slice(0, 63),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts', type: 'devpts', source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    linux: {
      cgroupsPath: `/${cgroupParent}/${id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** The `Containers.Create` request for container `id` running `args`. */
/**
 * `labels` go on the container and, as `ctr run --label` does, into the spec's annotations too (containerd's
 * runc v2 shim reads its group from the annotations, berthd from the label first).
 */
export function containerRequest(id: string, rootfs: string, args: string[], cgroupParent: string, labels: Record<string, string> = {}): object {
  const doc = ociSpec(rootfs, args, cgroupParent, id) as Record<string, unknown>;
  if (Object.keys(labels).length > 0) doc.annotations = { ...labels };
  const spec: AnyMessage = packJsonAny(OCI_SPEC_TYPE_URL, doc);
  return {
    container: {
      id,
      labels,
      image: '',
      runtime: { name: RUNTIME_NAME, options: null },
      spec,
      snapshotter: '',
      snapshot_key: '',
      extensions: {},
    },
  };
}
