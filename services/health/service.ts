/**
 * grpc.health.v1.Health, as containerd's healthcheck plugin serves it: Check answers SERVING once berthd
 * serves (for the whole server, service ""), Watch sends SERVING and holds the stream until the client
 * goes away. dockerd depends on it: after losing its containerd connection it waits for Check to say
 * SERVING before it subscribes to events again.
 */
import { serviceDefinition } from '../../proto/loader';
import { serverStream, unary, type GrpcServer } from '../server';

export const HEALTH_PROTO = 'grpc/health/v1/health.proto';

export function registerHealthService(server: GrpcServer): void {
  server.addService(serviceDefinition(HEALTH_PROTO, 'grpc.health.v1.Health'), {
    Check: unary(async () => ({ status: 'SERVING' })),
    Watch: serverStream(async (_req, _ctx, send, signal) => {
      send({ status: 'SERVING' });
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }),
  });
}
