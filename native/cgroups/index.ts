/**
 * native/cgroups: a container's cgroup on cgroup v1 (one hierarchy per controller) or v2 (unified), detected
 * at start. Every entry point takes a root (default /sys/fs/cgroup), so the logic runs against a temporary
 * directory laid out like either kind in unit tests. See docs/cgroups.md.
 *
 *   const cg = await openCgroup({ path: spec.linux.cgroupsPath ?? `/berth/${ns}/${id}` });
 *   await cg.create(spec.linux.resources); await cg.addProcess(pid); ... await cg.killAll(); await cg.destroy();
 */
import { DEFAULT_CGROUP_ROOT, probeRoot } from './detect';
import { normalizeCgroupPath } from './files';
import type { CgroupLayout, CgroupManager } from './types';
import { V1Cgroup } from './v1';
import { V2Cgroup } from './v2';

export * from './types';
export { DEFAULT_CGROUP_ROOT, detectLayout } from './detect';
export { V1Cgroup } from './v1';
export { V2Cgroup } from './v2';

export interface OpenCgroupOptions {
  /** the cgroup filesystem root (default /sys/fs/cgroup) */
  root?: string;
  /** OCI cgroupsPath, e.g. "/berth/default/web1"; a relative path is taken from the root */
  path: string;
  /** skip detection */
  layout?: CgroupLayout;
}

/** A manager for one cgroup; nothing is created until `create`. */
export async function openCgroup(opts: OpenCgroupOptions): Promise<CgroupManager> {
  const root = opts.root ?? DEFAULT_CGROUP_ROOT;
  const cgPath = normalizeCgroupPath(opts.path);
  const { layout, hierarchies } = await probeRoot(root, opts.layout);
  return layout === 'v2' ? new V2Cgroup(root, cgPath) : new V1Cgroup(root, cgPath, hierarchies);
}
