/**
 * Test rootfs: a busybox tree made from Debian's busybox-static (/bin/busybox), as `busybox --install -s`
 * lays it out (one symlink per applet, at busybox's own install paths, pointing to /bin/busybox), plus
 * /etc/passwd, /etc/group and the usual mount-point directories. Works without root.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

export const BUSYBOX = '/bin/busybox';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'berth:x:1000:1000:berth:/home/berth:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

const GROUP = [
  'root:x:0:', 'daemon:x:1:', 'tty:x:5:', 'disk:x:6:', 'wheel:x:10:berth', 'users:x:100:', 'berth:x:1000:',
  'nogroup:x:65534:', '',
].join('\n');

const DIRS = ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home/berth', 'run', 'var/tmp', 'mnt'];

let applets: string[] | undefined;

/** Builds a busybox rootfs in `dir` (created when missing). */
export async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const d of DIRS) await fs.mkdir(path.join(dir, d), { recursive: true });
  await fs.chmod(path.join(dir, 'tmp'), 0o1777);
  await fs.copyFile(BUSYBOX, path.join(dir, 'bin/busybox'));
  await fs.chmod(path.join(dir, 'bin/busybox'), 0o755);
  applets ??= execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  await Promise.all(
    applets.map(async (rel) => {
      if (rel === 'bin/busybox') return;
      const link = path.join(dir, rel);
      await fs.mkdir(path.dirname(link), { recursive: true });
      await fs.symlink('/bin/busybox', link).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }),
  );
  await fs.writeFile(path.join(dir, 'etc/passwd'), PASSWD);
  await fs.writeFile(path.join(dir, 'etc/group'), GROUP);
  await fs.writeFile(path.join(dir, 'etc/hostname'), 'berth\n');
}
