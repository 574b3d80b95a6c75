/** Label validation as containerd's labels.Validate: key and value together at most 4096 bytes. */
import { InvalidArgument } from '../../pkg/errdefs';
import type { Labels } from './types';

export const MAX_LABEL_SIZE = 4096;

export function validateLabels(labels: Labels, what: string): void {
  for (const [k, v] of Object.entries(labels)) {
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_SIZE) {
      throw new InvalidArgument(
        `${what}: label key and value greater than maximum size (${MAX_LABEL_SIZE} bytes), key: ${k.slice(0, 10)}: invalid argument`,
      );
    }
  }
}

/** Labels as stored: empty values dropped (containerd never stores a label with an empty value). */
export function withoutEmptyValues(labels: Labels | null | undefined): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (v !== '') out[k] = v;
  return out;
}
