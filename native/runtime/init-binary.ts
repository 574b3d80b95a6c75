/**
 * Where berth-init is executed from. CVE-2019-5736: a container process must never be able to overwrite
 * the binary that enters containers. The runtime copies berth-init once per process into a sealed memfd
 * (no write, no resize, no new seal) and executes `/proc/<our pid>/fd/<memfd>`; /proc/<pid>/exe of every
 * berth-init is that memfd, never the file on disk. berth-init also makes itself non-dumpable until it
 * execs, so container processes cannot even open /proc/<pid>/exe of it. If memfds are unavailable the file
 * itself is executed and a warning is logged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NotFound } from '../../pkg/errdefs';
import { getLogger } from '../../pkg/log';
import { memfdCreate, sealMemfd } from '../sys/linux';

/** <repo>/native/init/build/berth-init, found from this file in the source tree or in dist/. */
export function defaultInitBinary(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'native', 'init', 'build', 'berth-init');
    if (fs.existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '../../../native/init/build/berth-init');
}

const sealed = new Map<string, string>();

/** The path to execute for `binary`: its sealed memfd copy (made once per process). */
export function sealedInitBinary(binary: string): string {
  const known = sealed.get(binary);
  if (known) return known;
  let content: Buffer;
  try {
    content = fs.readFileSync(binary);
  } catch {
    throw new NotFound(`init binary ${binary}: not found (run npm run build:native)`);
  }
  let exe = binary;
  try {
    const fd = memfdCreate('berth-init');
    try {
      let off = 0;
      while (off < content.length) off += fs.writeSync(fd, content, off, content.length - off);
      fs.fchmodSync(fd, 0o555);
      sealMemfd(fd);
      exe = `/proc/${process.pid}/fd/${fd}`;
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  } catch (err) {
    getLogger('runtime').warn('cannot seal berth-init into a memfd, executing the file itself', { binary, error: String(err) });
  }
  sealed.set(binary, exe);
  return exe;
}
