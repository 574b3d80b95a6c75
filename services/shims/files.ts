/**
 * Small file and /proc helpers of the shim manager: atomic writes of the bundle's record files, process
 * identity checks (a pid plus its start time, so a recycled pid is never mistaken for our shim), and the
 * mount check that keeps a recursive removal from ever descending into a mounted rootfs.
 *
 * berthd may not use native/: unmounting goes through /bin/umount (execa), everything else is plain file IO.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Internal, messageOf } from '../../pkg/errdefs';

/** Writes `data` to `file` through a temporary file and a rename: readers see the old or the new content. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    fs.writeFileSync(tmp, data, { mode });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** The trimmed content of a file, or undefined when it does not exist. */
export function readOptional(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A positive integer read from a file; undefined when the file is missing or does not hold one. */
export function readPositiveInt(file: string): number | undefined {
  const text = readOptional(file);
  if (text === undefined || !/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

interface ProcStat {
  state: string;
  startTime: string;
}

function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) S ppid ..." — comm may hold spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  return { state: rest[0] ?? '', startTime: rest[19] ?? '' };
}

/** The kernel start time of a process (clock ticks since boot, as text), or undefined if it is gone. */
export function processStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

/**
 * Whether `pid` is a live (non-zombie) process and, when `startTime` is given, the same process that had
 * that start time (pids are recycled).
 */
export function isProcessAlive(pid: number, startTime?: string): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || startTime === '' || st.startTime === startTime;
}

/** Polls until the process is gone or `timeoutMs` passes; true when it is gone. */
export async function waitProcessGone(pid: number, startTime: string | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (isProcessAlive(pid, startTime)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
  return true;
}

/** Sends a signal to a process we verified by start time; false when it is not (or no longer) there. */
export function signalVerified(pid: number, startTime: string | undefined, signal: NodeJS.Signals): boolean {
  if (!isProcessAlive(pid, startTime)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Decodes the octal escapes (\040 for space...) of /proc/self/mountinfo paths. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points at or below `dir` in berthd's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  const root = path.resolve(dir);
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5) continue;
    const mp = unescapeMountPath(fields[4]!);
    if (mp === root || mp.startsWith(root + '/')) found.push(mp);
  }
  return found.sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir` (deepest first, lazily as a last resort); throws if any remains. */
export async function unmountAllUnder(dir: string): Promise<void> {
  let mounts = mountsUnder(dir);
  if (mounts.length === 0) return;
  const { execa } = await import('execa');
  for (const mp of mounts) {
    const r = await execa('umount', [mp], { reject: false });
    if (r.exitCode !== 0) await execa('umount', ['-l', mp], { reject: false });
  }
  mounts = mountsUnder(dir);
  if (mounts.length > 0) throw new Internal(`bundle ${dir}: still mounted at ${mounts.join(', ')}`);
}

/**
 * Removes a bundle directory: first every mount below it (a recursive removal must never reach into a
 * mounted rootfs), then the tree. Missing directories are fine.
 */
export async function removeBundleDir(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  await unmountAllUnder(dir);
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw new Internal(`bundle ${dir}: remove: ${messageOf(err)}`, { cause: err });
  }
}

/** Removes a file, ignoring a missing one. */
export function removeFile(file: string): void {
  fs.rmSync(file, { force: true });
}
