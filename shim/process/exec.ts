/**
 * An exec process: registered by Exec (state created, no process yet), started by Start (its stdio is opened
 * and the runtime starts it in the container at once), signalled directly by pid.
 */
import { NotFound } from '../../pkg/errdefs';
import { ProcessStdio, type StdioPaths } from '../io/stdio';
import type { OciProcessSpec } from '../runtime/types';
import { ShimProcess, type ExitResult, type ProcessDeps } from './process';

export class ExecProcess extends ShimProcess {
  constructor(
    deps: ProcessDeps,
    readonly execId: string,
    private readonly spec: OciProcessSpec,
    paths: StdioPaths,
  ) {
    super('exec', deps, paths);
  }

  start(): Promise<number> {
    return this.lock.run(() =>
      this.reported(async () => {
        this.state.check('start');
        this.io = await ProcessStdio.open(this.paths, this.deps.bundle, this.log);
        try {
          const rp = await this.deps.runtime().exec(this.execId, this.spec, this.io.processFds);
          this.io.started();
          this.adopt(rp);
        } catch (err) {
          this.io.close();
          this.io = undefined;
          throw err;
        }
        if (this.status === 'created') this.state.apply('start');
        await this.deps.events.execStarted(this.deps.containerId, this.execId, this.pid);
        return this.pid;
      }),
    );
  }

  async kill(signal: number): Promise<void> {
    this.state.check('kill');
    if (this.reaped) throw new NotFound('process already finished');
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new NotFound('process already finished', { cause: err });
      throw err;
    }
  }

  delete(): Promise<ExitResult> {
    return this.lock.run(async () => {
      this.state.apply('delete');
      this.io?.close();
      return this.exitResult();
    });
  }
}
