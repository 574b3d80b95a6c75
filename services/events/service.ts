/**
 * containerd.services.events.v1.Events: Publish (topic validated, namespace from the request), Forward
 * (envelope validated: namespace, topic, timestamp), Subscribe (containerd filters over topic, namespace
 * and event.*; a malformed filter → InvalidArgument; streams until the client cancels or berthd stops).
 */
import { InvalidArgument } from '../../pkg/errdefs';
import type { AnyMessage } from '../../proto/any';
import { PROTO_FILES, serviceDefinition } from '../../proto/loader';
import { serverStream, unary, type GrpcServer } from '../server';
import type { Envelope, EventExchange } from './exchange';

export function registerEventsService(server: GrpcServer, events: EventExchange): void {
  server.addService(serviceDefinition(PROTO_FILES.events, 'containerd.services.events.v1.Events'), {
    Publish: unary(async (req: { topic: string; event: AnyMessage | null }, ctx) => {
      const ns = ctx.requireNamespace();
      events.publish(ns, req.topic, req.event ?? { type_url: '', value: Buffer.alloc(0) });
      return {};
    }),
    Forward: unary(async (req: { envelope: Envelope | null }) => {
      if (!req.envelope) throw new InvalidArgument('envelope must be set: invalid argument');
      const env = req.envelope;
      events.forward({ ...env, event: env.event ?? { type_url: '', value: Buffer.alloc(0) } });
      return {};
    }),
    Subscribe: serverStream(async (req: { filters: string[] }, _ctx, send, signal) => {
      for await (const env of events.subscribe(req.filters ?? [], signal)) send(env);
    }),
  });
}
