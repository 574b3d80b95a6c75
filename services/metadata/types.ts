/**
 * The records the metadata store keeps, shaped like the containerd 1.6 v1 API messages (snake_case proto
 * field names) so services hand them to grpc-js as they are.
 */
import type { AnyMessage } from '../../proto/any';
import type { Timestamp } from '../../proto/timestamp';

export type Labels = Record<string, string>;

/** `containerd.services.containers.v1.Container`. */
export interface ContainerRecord {
  id: string;
  labels: Labels;
  image: string;
  runtime: { name: string; options: AnyMessage | null };
  spec: AnyMessage | null;
  snapshotter: string;
  snapshot_key: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  extensions: Record<string, AnyMessage>;
}

/** `containerd.services.namespaces.v1.Namespace`. */
export interface NamespaceRecord {
  name: string;
  labels: Labels;
}

/** `containerd.services.leases.v1.Lease`. */
export interface LeaseRecord {
  id: string;
  created_at: Timestamp;
  labels: Labels;
}

/** `containerd.services.leases.v1.Resource`: `content`, `ingests` or `snapshots/<snapshotter>`. */
export interface LeaseResource {
  id: string;
  type: string;
}

/** Now, with microsecond precision (containerd stamps records with nanoseconds). */
export function nowTimestamp(): Timestamp {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e3) * 1e3);
  return { seconds, nanos };
}
