/** `bctr version`: client and server versions, as `ctr version` prints them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { withClient, println } from './common';

function packageRoot(): string {
  // ctr/commands → repository root, from the source tree or from dist/.
  const up = path.resolve(__dirname, '../..');
  return path.basename(up) === 'dist' ? path.dirname(up) : up;
}

/** bctr's own version (package.json). */
export function clientVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function register(program: Command): void {
  program
    .command('version')
    .description('print the client and server versions')
    .action(async (_opts: object, cmd: Command) => {
      println('Client:');
      println('  Version: ', clientVersion());
      println('  Revision:', 'berth');
      println('  Node version:', process.version);
      println('');
      await withClient(cmd, async (client) => {
        const v = await client.version.Version({});
        println('Server:');
        println('  Version: ', v.version);
        println('  Revision:', v.revision);
        const server = await client.introspection.Server({});
        println('  UUID:', server.uuid);
      });
    });
}
