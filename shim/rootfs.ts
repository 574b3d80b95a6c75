/**
 * Rootfs mounts of Create (e.g. an overlay from a snapshotter): mounted one after another on
 * `<bundle>/rootfs`, as containerd's runc shim does (the Mount's target is ignored), and unmounted when the
 * task is deleted or its creation fails.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgument, messageOf } from '../pkg/errdefs';
import { MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT, parseMountOptions } from '../native/runtime/mounts';
import { MNT_DETACH, mount, umount2 } from '../native/sys/linux';

export interface RootfsMount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

export const ROOTFS_DIR = 'rootfs';

/** Mounts every mount on <bundle>/rootfs; returns that path (undefined without mounts). Undoes itself on error. */
export async function mountRootfs(bundle: string, mounts: RootfsMount[]): Promise<string | undefined> {
  if (mounts.length === 0) return undefined;
  const rootfs = path.join(bundle, ROOTFS_DIR);
  await fs.mkdir(rootfs, { mode: 0o711 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  let done = 0;
  try {
    for (const [i, m] of mounts.entries()) {
      if (!m.type && !m.options.includes('bind') && !m.options.includes('rbind')) throw new InvalidArgument(`rootfs[${i}]: mount type is required`);
      const opts = parseMountOptions(m.options);
      let flags = opts.flags;
      if (m.type === 'bind') flags |= MS_BIND;
      const isBind = (flags & MS_BIND) !== 0;
      const source = isBind ? path.resolve(m.source) : m.source || m.type;
      try {
        mount(source, rootfs, isBind ? null : m.type, isBind ? flags & (MS_BIND | MS_REC) : flags, isBind ? null : opts.data || null);
        done++;
        // A bind mount takes its other flags (ro, nosuid...) only through a remount.
        if (isBind && (flags & ~(MS_BIND | MS_REC)) !== 0) mount(null, rootfs, null, flags | MS_REMOUNT | MS_BIND | (flags & MS_RDONLY), null);
        for (const p of opts.propagation) mount(null, rootfs, null, p, null);
      } catch (err) {
        throw new InvalidArgument(`rootfs[${i}]: mount ${m.type} ${m.source} on ${rootfs}: ${messageOf(err)}`, { cause: err });
      }
    }
    return rootfs;
  } catch (err) {
    for (let i = 0; i < done; i++) unmountOnce(rootfs);
    throw err;
  }
}

function unmountOnce(target: string): boolean {
  try {
    umount2(target, 0);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EINVAL' || code === 'ENOENT') return false; // nothing (more) mounted
    if (code === 'EBUSY') {
      umount2(target, MNT_DETACH);
      return true;
    }
    throw err;
  }
}

/** Unmounts everything stacked on <bundle>/rootfs (idempotent). */
export function unmountRootfs(rootfs: string | undefined): void {
  if (!rootfs) return;
  for (let i = 0; i < 64 && unmountOnce(rootfs); i++);
}
