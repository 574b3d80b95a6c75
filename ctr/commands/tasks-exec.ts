/**
 * `bctr tasks exec --exec-id ID [-t] [-d] [--cwd DIR] CONTAINER CMD [ARG...]`, as ctr's tasks/exec.go: the
 * process spec is the container's, with the given args, terminal and cwd. Unless -d, bctr copies IO, waits
 * for the exit, deletes the process and exits with its status. Options come before CONTAINER.
 */
import type { Command } from 'commander';
import { withClient } from './common';
import { loadContainer, loadTask, specOf, newExec, deleteExec, Attachment } from './task-lifecycle';
import { Console } from '../io/console';
import { ExitStatus, UsageError } from '../errors';

interface ExecFlags {
  cwd?: string;
  tty?: boolean;
  detach?: boolean;
  execId: string;
  fifoDir?: string;
}

export function register(tasks: Command): void {
  tasks
    .command('exec')
    .description('execute additional processes in an existing container')
    .usage('[command options] [flags] CONTAINER CMD [ARG...]')
    .option('--cwd <value>', 'working directory of the new process')
    .option('-t, --tty', 'allocate a TTY for the container')
    .option('-d, --detach', 'detach from the task after it has started execution')
    .requiredOption('--exec-id <value>', 'exec specific id for the process')
    .option('--fifo-dir <value>', 'directory used for storing IO FIFOs')
    .argument('[args...]')
    .passThroughOptions()
    .action(async (args: string[], f: ExecFlags, cmd: Command) => {
      const [id, ...argv] = args;
      if (!id) throw new UsageError('container id must be provided');
      await withClient(cmd, async (client) => {
        const container = await loadContainer(client, id);
        const pspec = specOf(container).process ?? { user: { uid: 0, gid: 0 }, cwd: '/' };
        pspec.terminal = !!f.tty;
        pspec.args = argv;
        if (f.cwd) pspec.cwd = f.cwd;
        await loadTask(client, id);

        let con: Console | undefined;
        try {
          if (f.tty) {
            con = Console.current();
            con.setRaw();
          }
          const proc = await newExec(client, id, f.execId, pspec, { tty: !!f.tty, fifoDir: f.fifoDir });
          const attachment = f.detach ? undefined : new Attachment(proc, con);
          try {
            const exited = proc.wait();
            exited.catch(() => undefined);
            await proc.start();
            if (!attachment) return;
            attachment.started();
            const status = await attachment.wait(exited);
            if (status.exit_status !== 0) throw new ExitStatus(status.exit_status);
          } finally {
            attachment?.stop();
            if (!f.detach) {
              await deleteExec(proc).catch(() => undefined);
              await proc.releaseIO();
            }
          }
        } finally {
          con?.reset();
        }
      });
    });
}
