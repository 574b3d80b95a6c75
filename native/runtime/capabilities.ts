/**
 * Linux capability names (as the OCI spec writes them, `CAP_SYS_ADMIN`) and their numbers, and the 64-bit
 * masks berth-init applies with capset(2). Unknown names are refused (InvalidArgument naming the field).
 */
import { InvalidArgument } from '../../pkg/errdefs';

export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const numbers = new Map(CAPABILITIES.map((name, i) => [name, i]));

export function capabilityNumber(name: string, field: string): number {
  const n = numbers.get(typeof name === 'string' ? name.toUpperCase() : '');
  if (n === undefined) throw new InvalidArgument(`${field}: unknown capability "${String(name)}"`);
  return n;
}

/** The mask of a list of capability names. */
export function capabilityMask(names: readonly string[], field: string): bigint {
  let mask = 0n;
  names.forEach((name, i) => {
    mask |= 1n << BigInt(capabilityNumber(name, `${field}[${i}]`));
  });
  return mask;
}

/** `0x...` for berth-init. */
export function maskHex(mask: bigint): string {
  return '0x' + mask.toString(16);
}
