/**
 * `bctr run [flags] --rootfs DIR ID [COMMAND] [ARG...]`, as ctr's commands/run: create the container,
 * create its task with FIFO IO, subscribe to its exit (Tasks.Wait) before starting it, start it, then
 * (unless -d) copy IO until it exits, delete the task (and with --rm the container) and exit with the
 * task's exit status. Options must come before the rootfs argument (ctr's SkipArgReorder).
 */
import type { Command } from 'commander';
import { withClient } from './common';
import { addContainerFlags, newContainer, type ContainerFlagValues } from './container-flags';
import { newTask, openIO, releaseIO, deleteContainerRecord, startAndWait, type ProcessHandle } from './task-lifecycle';
import { Console } from '../io/console';
import { UsageError } from '../errors';

interface RunFlags extends ContainerFlagValues {
  rm?: boolean;
  nullIo?: boolean;
  detach?: boolean;
  fifoDir?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('run a container')
    .usage('[command options] [flags] Image|RootFS ID [COMMAND] [ARG...]')
    .option('--rm', 'remove the container after running, cannot be used with --detach')
    .option('--null-io', 'send all IO to /dev/null')
    .option('-d, --detach', 'detach from the task after it has started execution, cannot be used with --rm')
    .option('--fifo-dir <value>', 'directory used for storing IO FIFOs')
    .option('--cgroup <value>', 'cgroup path (To disable use of cgroup, set to "" explicitly)');
  addContainerFlags(cmd, true)
    .argument('[args...]')
    .passThroughOptions()
    .action(async (args: string[], f: RunFlags, c: Command) => {
      const rm = !!f.rm;
      const detach = !!f.detach;
      let id: string | undefined;
      if (f.config) {
        id = args[0];
        if (args.length > 1) throw new UsageError('with spec config file, only container id should be provided');
      } else {
        id = args[1];
        if (!args[0]) throw new UsageError('image ref must be provided');
      }
      if (!id) throw new UsageError('container id must be provided');
      if (rm && detach) throw new UsageError('flags --detach and --rm cannot be specified together');
      const containerId = id;

      await withClient(c, async (client) => {
        // The FIFOs are made while the container is being created (mkfifo is a process of its own).
        const ioChoice = { tty: !!f.tty, nullIO: f.nullIo, fifoDir: f.fifoDir };
        const prepared = openIO(containerId, ioChoice);
        prepared.catch(() => undefined);
        let container;
        try {
          container = await newContainer(client, args, f, true);
        } catch (err) {
          await releaseIO(await prepared.catch(() => ({})));
          throw err;
        }
        let con: Console | undefined;
        let task: ProcessHandle | undefined; // owns the prepared IO once created
        try {
          if (f.tty) {
            con = Console.current();
            con.setRaw();
          }
          task = await newTask(client, container, ioChoice, f.pivot === false, prepared);
          await startAndWait(task, con, { detach, pidFile: f.pidFile });
        } finally {
          con?.reset();
          if (!task) await releaseIO(await prepared.catch(() => ({}))); // (a second release after a failed newTask is harmless)
          if (rm && !detach) await deleteContainerRecord(client, containerId).catch(() => undefined);
        }
      });
    });
}
