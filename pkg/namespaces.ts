/**
 * The containerd namespace travels in gRPC metadata under `containerd-namespace`. A request without one is
 * refused as containerd does (FailedPrecondition "namespace is required"); an invalid one is InvalidArgument.
 */
import { Metadata } from '@grpc/grpc-js';
import { FailedPrecondition, InvalidArgument } from './errdefs';
import { isValidIdentifier } from './identifiers';

export const NAMESPACE_METADATA_KEY = 'containerd-namespace';
export const DEFAULT_NAMESPACE = 'default';

/** Reads the namespace from request metadata; undefined when absent. */
export function namespaceOf(md: Metadata): string | undefined {
  const values = md.get(NAMESPACE_METADATA_KEY);
  const v = values.length > 0 ? String(values[0]) : '';
  return v === '' ? undefined : v;
}

/** The namespace of a request, required and valid. */
export function requireNamespace(md: Metadata): string {
  const ns = namespaceOf(md);
  if (ns === undefined) throw new FailedPrecondition('namespace is required');
  validateNamespace(ns);
  return ns;
}

export function validateNamespace(ns: string): void {
  if (!isValidIdentifier(ns)) throw new InvalidArgument(`namespace "${ns}": invalid namespace name`);
}

/** Client side: metadata carrying a namespace. */
export function namespaceMetadata(ns: string): Metadata {
  const md = new Metadata();
  md.set(NAMESPACE_METADATA_KEY, ns);
  return md;
}
