/**
 * `google.protobuf.Any` helpers. containerd puts protobuf messages in Any with the message's full name as the
 * type URL (`containerd.events.TaskExit`), and the OCI spec as JSON under
 * `types.containerd.io/opencontainers/runtime-spec/1/Spec`.
 */
import { encodeMessage, decodeMessage } from './loader';

export interface AnyMessage {
  type_url: string;
  value: Buffer | Uint8Array;
}

export const OCI_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
export const OCI_PROCESS_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
export const OCI_RESOURCES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';
export const RUNC_OPTIONS_TYPE = 'containerd.runc.v1.Options';

/** The message name inside a type URL (`types.example.com/foo.Bar` → `foo.Bar`). */
export function typeNameOf(typeUrl: string): string {
  const i = typeUrl.lastIndexOf('/');
  return i >= 0 ? typeUrl.slice(i + 1) : typeUrl;
}

/** Packs a protobuf message given by its full name (the type URL is the bare name, as containerd does). */
export function packAny(fullName: string, obj: object): AnyMessage {
  return { type_url: fullName, value: encodeMessage(fullName, obj) };
}

/** Unpacks a protobuf message from an Any. */
export function unpackAny<T = Record<string, unknown>>(any: AnyMessage): T {
  return decodeMessage<T>(typeNameOf(any.type_url), any.value);
}

/** Packs a JSON document (OCI spec, process, resources) under the given type URL. */
export function packJsonAny(typeUrl: string, doc: unknown): AnyMessage {
  return { type_url: typeUrl, value: Buffer.from(JSON.stringify(doc)) };
}

/** Parses the JSON held in an Any; throws SyntaxError when it is not JSON. */
export function unpackJsonAny<T = unknown>(any: AnyMessage): T {
  return JSON.parse(Buffer.from(any.value).toString('utf8')) as T;
}
