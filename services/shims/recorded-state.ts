/**
 * A task's init state as the files of its bundle record it, for a restarted berthd that lists the task
 * before its shim answered (recovery.ts): no shim is asked, only files are read.
 *
 *   task.json      the init pid (written after shim Create)
 *   events.json    what berthd published: the init status the events left (`init.status`), its stdio from
 *                  /tasks/create (`init.io`), and the init's exit (`initExit`)
 *   shim-events    what the shim queued and berthd had not published yet (seq above the ledger's): applied
 *                  on top in order, so an exit that happened while berthd was down shows as STOPPED
 *
 * There is no recorded state (undefined: callers wait for the shim) when the task was never created
 * (no task.json) or was deleted (/tasks/delete published or queued: berthd died before removing the
 * bundle), the ledger predates the `init` field, or the init is gone without a recorded exit (the shim is
 * about to report it; its State will tell).
 */
import { unpackAny } from '../../proto/any';
import type { Timestamp } from '../../proto/timestamp';
import { initStatusAfter, ioOfCreate, type InitIo, type LedgerRecord } from './event-ledger';
import { readQueuedEvents, type TaskFacts } from './dead-task';
import { isProcessAlive } from './files';
import type { StateResponse, StatusValue } from './messages';

const NO_IO: InitIo = { stdin: '', stdout: '', stderr: '', terminal: false };

/**
 * The init's state from the bundle's records (see the header), or undefined when they do not tell it.
 * `id` is the container id (an exit event of the init carries it, or an empty id).
 */
export function readRecordedState(bundle: string, id: string, facts: TaskFacts | undefined, ledger: Readonly<LedgerRecord>): StateResponse | undefined {
  if (!facts || ledger.deleted) return undefined;
  let status: StatusValue | undefined = ledger.initExit ? 'STOPPED' : ledger.init?.status;
  let io = ledger.init?.io;
  let exit = ledger.initExit ? { exit_status: ledger.initExit.exit_status, exited_at: ledger.initExit.exited_at } : undefined;
  for (const ev of readQueuedEvents(bundle, ledger.seq)) {
    if (ev.topic === '/tasks/delete') return undefined;
    if (ev.topic === '/tasks/exit') {
      if (status === 'STOPPED') continue;
      try {
        const e = unpackAny(ev.event) as { id?: string; exit_status?: number; exited_at?: Timestamp | null };
        if (e.id !== id && e.id !== '') continue;
        status = 'STOPPED';
        exit = { exit_status: Number(e.exit_status ?? 0), exited_at: e.exited_at ?? { seconds: 0, nanos: 0 } };
      } catch {
        return undefined;
      }
      continue;
    }
    const next = initStatusAfter(ev.topic);
    if (!next || status === 'STOPPED') continue;
    status = next;
    if (ev.topic === '/tasks/create') io = ioOfCreate(ev.event) ?? io;
  }
  if (!status) return undefined;
  if (status !== 'STOPPED' && !isProcessAlive(facts.pid, facts.startTime)) return undefined;
  const { stdin, stdout, stderr, terminal } = io ?? NO_IO;
  return {
    id,
    bundle,
    pid: facts.pid,
    status,
    stdin,
    stdout,
    stderr,
    terminal,
    exit_status: exit?.exit_status ?? 0,
    exited_at: exit?.exited_at ?? null,
    exec_id: '',
  };
}
