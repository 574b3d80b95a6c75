/**
 * A benchmark results object for the bench unit tests (table rows, docs sections): a quick run's options, a
 * made-up machine, both sides, every measurement empty unless the test fills it in.
 */
import type { BenchOptions, BenchResults } from '../../bench/results';

export function benchResults(over: Partial<BenchResults> = {}, options: Partial<BenchOptions> = {}): BenchResults {
  return {
    schema: 1,
    command: 'node dist/bench/run.js',
    startedAt: '',
    finishedAt: '',
    options: {
      iterations: 5, warmups: 1, burst: 4, burstRounds: 1, idle: 4, groupSize: 2, listMs: 300, settleMs: 200,
      restartTasks: 4, eventSamples: 5, skipRestart: true, quick: true, only: undefined,
      ...options,
    },
    machine: { nproc: 2, cpu: 'cpu', memoryGiB: 1, kernel: 'k', os: 'os', node: 'v20', containerd: 'c', runc: 'r', loadAverage: [0, 0, 0] },
    sides: ['berth', 'containerd'],
    sideErrors: {},
    lifecycle: {},
    burst: {},
    exitEvent: {},
    memory: {},
    memoryGrouped: {},
    list: {},
    restart: {},
    ...over,
  };
}
