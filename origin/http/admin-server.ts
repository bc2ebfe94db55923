// The origin's admin listener: /healthz and /metrics, apart from the public HLS/control port and bound to loopback by
// default (ADMIN_BIND_HOST), so what the origin holds and how loaded it is stays with the operator's monitoring.
// node:http, not uWebSockets.js: a few scrapes a minute need no hot path, and it closes its connections on its own.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { requestCounter } from './hls-server.ts';

export interface AdminServerOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** 0 picks a free port (see `server.port`) */
  port: number;
  /** served as text at /metrics */
  registry: Registry;
  /** /healthz answers 503 when this says not ok */
  health: () => { ok: boolean; [detail: string]: unknown };
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** How long a scrape may take to send its request before the connection is dropped. */
const REQUEST_TIMEOUT_MS = 5_000;

export function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const host = opts.host ?? '127.0.0.1';
  const requests = requestCounter(opts.registry);
  const answer = (res: ServerResponse, route: string, status: number, contentType: string, body: string): void => {
    requests.inc({ route, status: String(status) });
    res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 'admin-other', 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    if (pathname === '/healthz') {
      const h = opts.health();
      const status = h.ok ? 200 : 503;
      return answer(res, 'healthz', status, 'application/json', JSON.stringify({ status: h.ok ? 'ok' : 'unhealthy', ...h }));
    }
    if (pathname === '/metrics') {
      void opts.registry.metrics().then(
        (text) => answer(res, 'metrics', 200, opts.registry.contentType, text),
        () => answer(res, 'metrics', 500, 'text/plain; charset=utf-8', 'metrics unavailable\n'),
      );
      return;
    }
    answer(res, 'admin-other', 404, 'text/plain; charset=utf-8', 'not found\n');
  };
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        host,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
