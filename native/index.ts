/**
 * native/: the runtime. Runs OCI bundles in namespaces and cgroups: a TypeScript Factory / Container /
 * Process API (libcontainer's shape) over a small C helper, berth-init (native/init/), that does the work
 * between fork and exec. See docs/runtime.md and docs/init-protocol.md.
 */
export { Factory, type FactoryOptions } from './runtime/factory';
export { Container, type ContainerState, type Process, type ProcessIO } from './runtime/container';
export { Reaper, type ExitStatus } from './runtime/reaper';
export type { ContainerStatus } from './runtime/state';
export type { OciSpec, OciProcess, OciMount, OciNamespace, LinuxResources } from './runtime/spec-types';
export { readBundleSpec, validateSpec, validateProcess } from './runtime/spec';
export { exampleSpec } from './runtime/spec-example';
export { resizePty } from './runtime/terminal';
export { signalNumber } from './runtime/signals';
export type { CgroupMetrics } from './cgroups';
