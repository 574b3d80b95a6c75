/** POSIX rlimit names of the OCI spec (`RLIMIT_NOFILE`) and their Linux resource numbers. */
import { InvalidArgument } from '../../pkg/errdefs';

export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export function rlimitNumber(type: string, field: string): number {
  const n = typeof type === 'string' ? RLIMITS[type.toUpperCase()] : undefined;
  if (n === undefined) throw new InvalidArgument(`${field}: unknown rlimit "${String(type)}"`);
  return n;
}

/** RLIM_INFINITY as berth-init parses it (an unsigned 64-bit number). */
export function rlimitValue(v: number): string {
  return v >= Number.MAX_SAFE_INTEGER ? '0xffffffffffffffff' : String(Math.floor(v));
}
