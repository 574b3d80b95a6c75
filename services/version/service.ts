/**
 * containerd.services.version.v1.Version. Reports containerd's API level with berth's own version as
 * build metadata (`v1.6.20+berth.0.1.0`), and the git revision of this checkout (`berth` when unknown).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import { unary, type GrpcServer } from '../server';

/** The containerd release whose v1 API berthd serves. */
export const CONTAINERD_API_VERSION = '1.6.20';

/** The repository root (works from services/version/, dist/services/version/ and the bundle in dist/bundle/). */
export const REPO_ROOT = ((): string => {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (path.basename(dir) === 'dist') return path.dirname(dir);
  }
  return path.resolve(__dirname, '../..');
})();

function berthVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Short commit id of the checkout, read from .git without running git; 'berth' when not a checkout. */
export function gitRevision(root = REPO_ROOT): string {
  try {
    const gitDir = path.join(root, '.git');
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 7);
    const ref = head.slice(5);
    const refFile = path.join(gitDir, ref);
    if (fs.existsSync(refFile)) return fs.readFileSync(refFile, 'utf8').trim().slice(0, 7);
    const packed = fs.readFileSync(path.join(gitDir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(' ' + ref));
    return line ? line.slice(0, 7) : 'berth';
  } catch {
    return 'berth';
  }
}

export interface VersionInfo {
  version: string;
  revision: string;
}

export function versionInfo(): VersionInfo {
  return { version: `v${CONTAINERD_API_VERSION}+berth.${berthVersion()}`, revision: gitRevision() };
}

export function registerVersionService(server: GrpcServer): void {
  const info = versionInfo();
  server.addService(serviceDefinition(PROTO_FILES.version, 'containerd.services.version.v1.Version'), {
    Version: unary(async () => info),
  });
}
