/**
 * Serving the shim API on the listening socket berthd passes as fd 3: a net.Server adopts the fd, and each
 * accepted connection is injected into a grpc-js Server (its connection injector), which speaks HTTP/2 on it.
 */
import net from 'node:net';
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { PROTO_FILES, serviceDefinition } from '../proto/loader';

export const LISTEN_FD = 3;

export interface ShimServer {
  close(): Promise<void>;
}

/** Starts serving on an already listening socket fd; resolves once the listener is adopted. */
export function serveOnFd(fd: number, handlers: UntypedServiceImplementation, onError: (err: Error) => void): Promise<ShimServer> {
  const server = new Server({ 'grpc.max_receive_message_length': 16 << 20 });
  server.addService(serviceDefinition(PROTO_FILES.shim, 'berth.shim.v1.Shim'), handlers);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener = net.createServer((socket) => {
    socket.on('error', () => socket.destroy()); // a client that vanishes is not our problem
    injector.injectConnection(socket);
  });
  listener.on('error', onError);
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ fd }, () => {
      listener.off('error', reject);
      resolve({
        close: () =>
          new Promise<void>((done) => {
            injector.destroy();
            server.forceShutdown();
            listener.close(() => done());
          }),
      });
    });
  });
}
