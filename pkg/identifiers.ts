/**
 * Identifier validation exactly as containerd's `identifiers.Validate`: container ids, exec ids, namespaces
 * and lease ids must match `^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$` and be at most 76 characters long.
 * Run before an identifier touches a path.
 */
import { InvalidArgument } from './errdefs';

export const MAX_IDENTIFIER_LENGTH = 76;
const identifierRe = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;

/** Throws InvalidArgument with containerd's wording when `id` is not a valid identifier. */
export function validateIdentifier(id: string): void {
  if (id === '') throw new InvalidArgument('identifier must not be empty');
  if (id.length > MAX_IDENTIFIER_LENGTH) {
    throw new InvalidArgument(`identifier "${id}" greater than maximum length (${MAX_IDENTIFIER_LENGTH} characters)`);
  }
  if (!identifierRe.test(id)) {
    throw new InvalidArgument(`identifier "${id}" must match ${identifierRe.source}`);
  }
}

export function isValidIdentifier(id: string): boolean {
  return id.length > 0 && id.length <= MAX_IDENTIFIER_LENGTH && identifierRe.test(id);
}
