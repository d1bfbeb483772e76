// A server of a test on loopback: listening on a free port, its connections tracked, and — when the
// test ends — every connection destroyed and the server closed, so no test waits on a socket.
import type { AddressInfo, Server, Socket } from 'node:net';
import type { TestContext } from 'node:test';

export async function listen(t: TestContext, server: Server, port = 0): Promise<{ port: number; sockets: Set<Socket>; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  t.after(close);
  return { port: (server.address() as AddressInfo).port, sockets, close };
}
