/** `google.protobuf.Timestamp` ⇄ Date. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

export function toTimestamp(d: Date | number = new Date()): Timestamp {
  const ms = typeof d === 'number' ? d : d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

export function fromTimestamp(ts: Partial<Timestamp> | null | undefined): Date {
  if (!ts) return new Date(0);
  return new Date(Number(ts.seconds ?? 0) * 1000 + Math.floor(Number(ts.nanos ?? 0) / 1e6));
}

/** A zero timestamp, as containerd sends for "not set". */
export const ZERO_TIMESTAMP: Timestamp = { seconds: 0, nanos: 0 };
