/**
 * Task bundles: the OCI spec taken from the container record is checked (JSON object with a `process`)
 * before anything is spawned, then written to `<bundle>/config.json`. The rootfs is either the mounts of
 * Tasks.Create (the shim mounts them on `<bundle>/rootfs`, created here) or the spec's `root.path`
 * (relative paths resolved against the bundle and kept inside it), which must exist as a directory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AnyMessage } from '../../proto/any';
import { InvalidArgument, NotFound, AlreadyExists } from '../../pkg/errdefs';
import { Cleanup } from '../../pkg/cleanup';
import { BUNDLE_FILES } from './layout';
import { removeBundleDir } from './files';

export interface OciSpecDoc {
  process: Record<string, unknown>;
  root?: { path?: string; readonly?: boolean };
  [key: string]: unknown;
}

/** Parses the container's spec Any; InvalidArgument naming the container when it is not usable. */
export function parseSpec(containerId: string, spec: AnyMessage | null | undefined): { doc: OciSpecDoc; raw: Buffer } {
  if (!spec || !spec.value || spec.value.length === 0) {
    throw new InvalidArgument(`container ${containerId}: spec is missing`);
  }
  const raw = Buffer.from(spec.value);
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new InvalidArgument(`container ${containerId}: spec is not valid JSON`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InvalidArgument(`container ${containerId}: spec is not a JSON object`);
  }
  const process = (doc as Record<string, unknown>).process;
  if (process === null || typeof process !== 'object' || Array.isArray(process)) {
    throw new InvalidArgument(`container ${containerId}: spec has no process`);
  }
  const root = (doc as Record<string, unknown>).root;
  if (root !== undefined && root !== null && (typeof root !== 'object' || Array.isArray(root))) {
    throw new InvalidArgument(`container ${containerId}: spec root is not an object`);
  }
  return { doc: doc as OciSpecDoc, raw };
}

export interface RootfsMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

/**
 * Checks the spec's root path when the request brings no rootfs mounts: absolute paths as given, relative
 * ones inside the bundle (no `..` escape); neither may be or pass through a symlink (runc refuses those too:
 * `invalid rootfs: not an absolute path, or a symlink`). Returns the resolved path.
 */
export function checkRootPath(containerId: string, bundle: string, doc: OciSpecDoc): string {
  const rootPath = doc.root?.path;
  if (typeof rootPath !== 'string' || rootPath === '') {
    throw new InvalidArgument(`container ${containerId}: spec has no root path and no rootfs mounts were given`);
  }
  let resolved: string;
  if (path.isAbsolute(rootPath)) {
    resolved = path.resolve(rootPath);
  } else {
    resolved = path.resolve(bundle, rootPath);
    if (resolved !== bundle && !resolved.startsWith(bundle + path.sep)) {
      throw new InvalidArgument(`rootfs ${rootPath}: relative root path escapes the bundle`);
    }
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(resolved);
  } catch {
    throw new NotFound(`rootfs ${resolved}: not found`);
  }
  if (!st.isDirectory()) throw new InvalidArgument(`rootfs ${resolved}: not a directory`);
  // As runc: the root path is its own real path, no symlink on the way (below the bundle for relative ones).
  const real = fs.realpathSync(resolved);
  const expected = path.isAbsolute(rootPath) ? resolved : path.join(fs.realpathSync(bundle), path.relative(bundle, resolved));
  if (real !== expected) throw new InvalidArgument(`rootfs ${rootPath}: a symlink or a path through one (resolves to ${real})`);
  return resolved;
}

/**
 * Creates the bundle directory (0700) with config.json and, with mounts, an empty rootfs directory.
 * A stale bundle of the same task (no live task owns it: the caller reserved the id) is removed first.
 * Returns an undo that removes it again.
 */
export async function createBundle(opts: {
  bundle: string;
  containerId: string;
  specRaw: Buffer;
  doc: OciSpecDoc;
  rootfs: RootfsMount[];
}): Promise<Cleanup> {
  const { bundle } = opts;
  const undo = new Cleanup();
  const rootPath = opts.doc.root?.path;
  if (opts.rootfs.length === 0) {
    // Checked before the bundle exists where possible (a relative root lives inside the bundle).
    if (typeof rootPath !== 'string' || rootPath === '' || path.isAbsolute(rootPath)) checkRootPath(opts.containerId, bundle, opts.doc);
  }
  if (fs.existsSync(bundle)) await removeBundleDir(bundle);
  fs.mkdirSync(path.dirname(bundle), { recursive: true, mode: 0o700 });
  try {
    fs.mkdirSync(bundle, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExists(`bundle ${bundle}: already exists`);
    throw err;
  }
  undo.push(() => removeBundleDir(bundle));
  try {
    if (opts.rootfs.length > 0) {
      fs.mkdirSync(path.join(bundle, BUNDLE_FILES.rootfs), { mode: 0o711 });
    } else {
      checkRootPath(opts.containerId, bundle, opts.doc);
    }
    fs.writeFileSync(path.join(bundle, BUNDLE_FILES.spec), opts.specRaw, { mode: 0o600 });
  } catch (err) {
    await undo.run();
    throw err;
  }
  return undo;
}

/**
 * Checks the client's stdio paths: plain paths must be absolute and name an existing FIFO itself, not a
 * symlink (the shim opens them with O_NOFOLLOW and checks again); URIs such as file:// or binary:// pass
 * through. Refused here, an exec's bad path fails Exec rather than its Start.
 */
export function checkIoPaths(io: { stdin: string; stdout: string; stderr: string }): void {
  for (const [name, p] of Object.entries(io)) {
    if (p === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(p)) continue;
    if (!path.isAbsolute(p)) throw new InvalidArgument(`${name} ${p}: must be an absolute path`);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      throw new NotFound(`${name} ${p}: not found`);
    }
    if (!st.isFIFO()) throw new InvalidArgument(`${name} ${p}: not a fifo${st.isSymbolicLink() ? ' (a symlink)' : ''}`);
  }
}
