/**
 * Short names for the generated message types bctr sends (`...Input`) and receives (decoded with every
 * field present, see proto/loader).
 */
export type { VersionResponse__Output as VersionResponse } from '../proto/gen/containerd/services/version/v1/VersionResponse';
export type { PluginsResponse__Output as PluginsResponse } from '../proto/gen/containerd/services/introspection/v1/PluginsResponse';
export type { Plugin__Output as Plugin } from '../proto/gen/containerd/services/introspection/v1/Plugin';
export type { ServerResponse__Output as ServerResponse } from '../proto/gen/containerd/services/introspection/v1/ServerResponse';
export type {
  Namespace__Output as Namespace,
  Namespace as NamespaceInput,
} from '../proto/gen/containerd/services/namespaces/v1/Namespace';
export type {
  Container__Output as Container,
  Container as ContainerInput,
} from '../proto/gen/containerd/services/containers/v1/Container';
export type { CreateTaskRequest } from '../proto/gen/containerd/services/tasks/v1/CreateTaskRequest';
export type { CreateTaskResponse__Output as CreateTaskResponse } from '../proto/gen/containerd/services/tasks/v1/CreateTaskResponse';
export type { DeleteResponse__Output as DeleteResponse } from '../proto/gen/containerd/services/tasks/v1/DeleteResponse';
export type { ExecProcessRequest } from '../proto/gen/containerd/services/tasks/v1/ExecProcessRequest';
export type { WaitResponse__Output as WaitResponse } from '../proto/gen/containerd/services/tasks/v1/WaitResponse';
export type { Process__Output as Process } from '../proto/gen/containerd/v1/types/Process';
export type { ProcessInfo__Output as ProcessInfo } from '../proto/gen/containerd/v1/types/ProcessInfo';
export type { Metric__Output as Metric } from '../proto/gen/containerd/types/Metric';
export type { Envelope__Output as Envelope } from '../proto/gen/containerd/services/events/v1/Envelope';
export type { Lease__Output as Lease } from '../proto/gen/containerd/services/leases/v1/Lease';
export type { Timestamp__Output as Timestamp } from '../proto/gen/google/protobuf/Timestamp';
export type { Any__Output as AnyOutput } from '../proto/gen/google/protobuf/Any';
