// A small HTTP proxy between the origin and the edge, so a test can cut the control plane or storage for a while:
// requests matching a path are reset, held open or answered with an error status until the cut ends. It also
// counts what the edge answered, so an unexpected 5xx to the origin is seen.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * 'reset': the connection is destroyed (edge unreachable); 'hang': never answered; a number: that status; 'late': the
 * edge gets the request and acts on it, its answer is held until the cut ends, then dropped (a slow edge).
 */
export type CutAction = 'reset' | 'hang' | 'late' | number;

export interface Cut {
  /** which request paths the cut applies to; all when absent */
  paths?: RegExp;
  action: CutAction;
  until: number;
}

export interface ProxiedAnswer {
  at: number;
  method: string;
  path: string;
  status: number;
  /** the answer's content-type and retry-after, to tell our problem+json from a local dev proxy's text */
  contentType?: string;
  retryAfter?: string;
}

export interface FaultProxy {
  url: string;
  /** cuts matching requests for `ms` from now */
  cut(ms: number, options?: { paths?: RegExp; action?: CutAction }): void;
  /** ends every cut at once */
  heal(): void;
  /** what the edge itself answered (cut requests are not in it); bounded to the last 20,000 */
  answers: ProxiedAnswer[];
  /** requests the proxy refused because of a cut */
  refused: number;
  close(): Promise<void>;
}

const MAX_ANSWERS = 20_000;

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let cuts: Cut[] = [];
  const held = new Set<http.ServerResponse>();
  const proxy: FaultProxy = {
    url: '',
    cut(ms, options = {}) {
      cuts.push({ paths: options.paths, action: options.action ?? 'reset', until: Date.now() + ms });
    },
    heal() {
      cuts = [];
      for (const res of held) res.destroy();
      held.clear();
    },
    answers: [],
    refused: 0,
    close: async () => {
      proxy.heal();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const activeCut = (path: string): Cut | undefined => {
    const now = Date.now();
    cuts = cuts.filter((c) => c.until > now);
    return cuts.find((c) => !c.paths || c.paths.test(path));
  };

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const cut = activeCut(path);
    if (cut && cut.action !== 'late') {
      proxy.refused += 1;
      req.resume();
      if (cut.action === 'reset') {
        req.socket.destroy();
      } else if (cut.action === 'hang') {
        held.add(res);
        // Held until the cut ends (then reset, as a stalled peer finally drops) or the origin gives up.
        const release = setTimeout(() => res.destroy(), Math.max(0, cut.until - Date.now()));
        res.on('close', () => {
          clearTimeout(release);
          held.delete(res);
        });
      } else {
        res.writeHead(cut.action, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ type: 'about:blank', title: 'injected fault', status: cut.action }));
      }
      return;
    }
    const forward = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path,
        headers: { ...req.headers, host: upstream.host },
        agent: false,
      },
      (answer) => {
        proxy.answers.push({
          at: Date.now(),
          method: req.method ?? 'GET',
          path: path.split('?')[0]!,
          status: answer.statusCode ?? 0,
          contentType: answer.headers['content-type'],
          retryAfter: answer.headers['retry-after'],
        });
        if (proxy.answers.length > MAX_ANSWERS) proxy.answers.splice(0, proxy.answers.length - MAX_ANSWERS);
        if (cut?.action === 'late') {
          proxy.refused += 1;
          answer.resume();
          held.add(res);
          const release = setTimeout(() => res.destroy(), Math.max(0, cut.until - Date.now()));
          res.on('close', () => {
            clearTimeout(release);
            held.delete(res);
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
