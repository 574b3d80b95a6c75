/**
 * Which cgroup layout a root holds, and (v1) which controller hierarchies it mounts.
 *
 * v2: `<root>/cgroup.controllers` exists (the root is the unified mount).
 * v1: `<root>/<controller>/cgroup.procs` exists for some controller, one mount per hierarchy; co-mounted
 * controllers (`cpu,cpuacct` with `cpu` and `cpuacct` symlinks, as systemd mounts them) are seen through
 * their symlinks and deduplicated by real path. A hybrid host (v1 hierarchies plus a `unified` v2 mount
 * beside them, like this Debian host) is v1, as containerd treats it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FailedPrecondition } from '../../pkg/errdefs';
import type { CgroupLayout } from './types';
import { exists } from './files';

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';

/** v1 hierarchy names as directories under the root; `systemd` is the `name=systemd` hierarchy (joined, no limits). */
export const V1_CONTROLLERS = [
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'hugetlb',
  'net_cls', 'net_prio', 'perf_event', 'rdma', 'misc', 'systemd',
] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export async function detectLayout(root: string = DEFAULT_CGROUP_ROOT): Promise<CgroupLayout> {
  if (await exists(path.join(root, 'cgroup.controllers'))) return 'v2';
  const found = await Promise.all(V1_CONTROLLERS.map((c) => exists(path.join(root, c, 'cgroup.procs'))));
  if (found.some((f) => f)) return 'v1';
  throw new FailedPrecondition(`cgroup root ${root}: neither a cgroup v2 mount nor cgroup v1 hierarchies`);
}

/** A v1 hierarchy the host mounts: the controllers it serves and its mount directory (real path). */
export interface V1Hierarchy {
  controllers: V1Controller[];
  mount: string;
}

/** The v1 hierarchies under `root`, each once, in V1_CONTROLLERS order of their first controller. */
export async function findV1Hierarchies(root: string): Promise<Map<V1Controller, V1Hierarchy>> {
  // Synchronous calls behind `exists` (files.ts): a few dozen, each answered at once by cgroupfs.
  const mounts = await Promise.all(
    V1_CONTROLLERS.map(async (c) => {
      const dir = path.join(root, c);
      return (await exists(path.join(dir, 'cgroup.procs'))) ? fs.realpathSync(dir) : undefined;
    }),
  );
  const byMount = new Map<string, V1Hierarchy>();
  const byController = new Map<V1Controller, V1Hierarchy>();
  V1_CONTROLLERS.forEach((c, i) => {
    const mount = mounts[i];
    if (mount === undefined) return;
    let h = byMount.get(mount);
    if (!h) {
      h = { controllers: [], mount };
      byMount.set(mount, h);
    }
    h.controllers.push(c);
    byController.set(c, h);
  });
  return byController;
}

export interface RootProbe {
  layout: CgroupLayout;
  /** v1 only */
  hierarchies: Map<V1Controller, V1Hierarchy>;
}

const probes = new Map<string, Promise<RootProbe>>();

/**
 * The layout and (v1) hierarchies of a root, probed once per process and root: mounts do not change under a
 * running runtime, and the probe costs a few dozen file system calls. A failed probe is not remembered.
 */
export function probeRoot(root: string, layout?: CgroupLayout): Promise<RootProbe> {
  const key = `${layout ?? 'auto'}:${root}`;
  let p = probes.get(key);
  if (!p) {
    p = (async (): Promise<RootProbe> => {
      const l = layout ?? (await detectLayout(root));
      if (l === 'v2') return { layout: l, hierarchies: new Map() };
      const hierarchies = await findV1Hierarchies(root);
      if (hierarchies.size === 0) throw new FailedPrecondition(`cgroup root ${root}: no cgroup v1 hierarchy mounted`);
      return { layout: l, hierarchies };
    })();
    probes.set(key, p);
    p.catch(() => probes.delete(key));
  }
  return p;
}
