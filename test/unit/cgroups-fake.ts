/**
 * Temporary directories laid out like a cgroup root, for the cgroups unit tests (no root needed).
 *
 * v1: one directory per controller hierarchy holding cgroup.procs (what detection looks for) and the root
 * files the code reads (cpuset.cpus/mems); v2: cgroup.controllers/subtree_control/procs at the top.
 * Unlike cgroupfs, mkdir makes an empty directory and a write creates the file: tests create the interface
 * files whose existence the code checks (memory.memsw.*, blkio.bfq.weight, hugetlb.2MB.*) themselves.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FakeRoot {
  root: string;
  /** trimmed contents of `<root>/<rel>`, or undefined when missing */
  read(rel: string): string | undefined;
  write(rel: string, content: string): void;
  exists(rel: string): boolean;
  /** removes the plain files under `<root>/<rel>` (cgroupfs rmdir ignores interface files; a plain dir does not) */
  stripFiles(rel: string): void;
  remove(): void;
}

export const V1_FAKE_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'hugetlb', 'systemd'];

function fake(root: string): FakeRoot {
  const abs = (rel: string): string => path.join(root, rel);
  return {
    root,
    read: (rel) => (fs.existsSync(abs(rel)) ? fs.readFileSync(abs(rel), 'utf8').trim() : undefined),
    write: (rel, content) => {
      fs.mkdirSync(path.dirname(abs(rel)), { recursive: true });
      fs.writeFileSync(abs(rel), content);
    },
    exists: (rel) => fs.existsSync(abs(rel)),
    stripFiles: (rel) => {
      const walk = (d: string): void => {
        if (!fs.existsSync(d)) return;
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else fs.rmSync(path.join(d, e.name));
        }
      };
      walk(abs(rel));
    },
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** A v1 root with the given controller hierarchies (default: all of V1_FAKE_CONTROLLERS). */
export function makeV1Root(controllers: string[] = V1_FAKE_CONTROLLERS): FakeRoot {
  const f = fake(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-cgv1-')));
  for (const c of controllers) f.write(`${c}/cgroup.procs`, '');
  if (controllers.includes('cpuset')) {
    f.write('cpuset/cpuset.cpus', '0-1\n');
    f.write('cpuset/cpuset.mems', '0\n');
  }
  return f;
}

/** A v2 root whose cgroup.controllers lists `controllers`. */
export function makeV2Root(controllers = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids']): FakeRoot {
  const f = fake(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-cgv2-')));
  f.write('cgroup.controllers', controllers.join(' ') + '\n');
  f.write('cgroup.subtree_control', '\n');
  f.write('cgroup.procs', '');
  return f;
}

/** Polls `check` every 2 ms for up to `ms`. */
export async function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}
