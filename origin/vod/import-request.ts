// One GET of a video import's URL, as the download engine (origin/simulive/source-download.ts) asks for it: node's own
// http/https client, because it lets every address a name resolves to be judged before the socket connects (a fetch()
// resolves out of sight). Redirects are followed by hand, at most MAX_REDIRECTS, each new URL judged by the import URL
// rules first; the answer is handed back as a web Response whose body fails when the connection closes before its end.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { PermanentDownloadError } from '../simulive/source-download.ts';
import { importUrlProblem, resolvedAddressProblem } from './import-url.ts';

export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'Riverhead-Import/1';

export interface ImportRequestRules {
  /** loopback names and addresses (and plain http to them) are allowed: local development only */
  allowLoopback: boolean;
  /** the resolver (default the system's, dns.lookup); a test gives the answers a rebinding name would */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
}

const systemResolve = (hostname: string): Promise<LookupAddress[]> => dnsLookup(hostname, { all: true, verbatim: true });

/** The URL without its query (a presigned URL's signature), to name it in errors and logs. */
export function describeImportUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** GETs `url` with `range`, following redirects; throws PermanentDownloadError for a URL or address the rules refuse. */
export async function requestImport(url: string, range: string, signal: AbortSignal, rules: ImportRequestRules): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const problem = importUrlProblem(current, rules.allowLoopback);
    if (problem) throw new PermanentDownloadError(hop === 0 ? `url: ${problem}` : `redirected to ${describeImportUrl(current)}, which ${problem.replace(/^must/, 'is not allowed: must')}`);
    const answer = await getOnce(current, range, signal, rules);
    const location = answer.headers.location;
    if (!REDIRECTS.has(answer.statusCode ?? 0) || location === undefined) return toResponse(answer, signal);
    answer.resume(); // the redirect's own body is not wanted
    if (hop >= MAX_REDIRECTS) throw new PermanentDownloadError(`more than ${MAX_REDIRECTS} redirects from ${describeImportUrl(url)}`);
    current = new URL(location, current).toString();
  }
}

/** One request on a connection whose addresses were all judged first. */
function getOnce(url: string, range: string, signal: AbortSignal, rules: ImportRequestRules): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    let refused: PermanentDownloadError | null = null;
    const lookup: LookupFunction = (hostname, options, callback) => {
      const wanted = options.family === 4 || options.family === 6 ? options.family : null;
      (rules.resolve ?? systemResolve)(hostname).then((all) => {
        const addresses = wanted === null ? all : all.filter((a) => a.family === wanted);
        const problem = all.map((a) => resolvedAddressProblem(hostname, a.address, rules.allowLoopback)).find((p) => p !== null);
        if (problem || addresses.length === 0) {
          refused = new PermanentDownloadError(problem ?? `${hostname} resolved to no address`);
          return callback(refused, '', 0);
        }
        if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        callback(null, addresses[0]!.address, addresses[0]!.family);
      }, (error: NodeJS.ErrnoException) => callback(error, '', 0));
    };
    const client = url.startsWith('https:') ? https : http;
    const request = client.get(url, { headers: { range, 'user-agent': USER_AGENT, accept: '*/*' }, lookup, signal }, resolve);
    request.on('error', (error) => reject(refused ?? error));
  });
}

/** The answer as a web Response; its body errors when the connection closes before the message's end. */
function toResponse(answer: IncomingMessage, signal: AbortSignal): Response {
  const status = answer.statusCode ?? 0;
  if (status < 200 || status > 599) {
    answer.destroy();
    throw new Error(`answered with HTTP status ${status}`);
  }
  const headers = new Headers();
  for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2) {
    try {
      headers.append(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
    } catch {
      // a header value fetch's Headers cannot hold: not one the download reads
    }
  }
  if ([204, 205, 304].includes(status)) {
    answer.resume();
    return new Response(null, { status, headers });
  }
  // An abort (the stall timeout, the deadline, the job stopped) ends the read with its reason.
  const onAbort = () => answer.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  const chunks = answer[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await chunks.next();
        if (!next.done) return controller.enqueue(new Uint8Array(next.value as Buffer));
        signal.removeEventListener('abort', onAbort);
        // A close before the announced length (or a chunked body's last chunk) is a dropped connection, not the end.
        if (!answer.complete) return controller.error(new Error('the connection closed before the body ended'));
        controller.close();
      } catch (error) {
        signal.removeEventListener('abort', onAbort);
        controller.error(error);
      }
    },
    cancel() {
      signal.removeEventListener('abort', onAbort);
      answer.destroy();
    },
  });
  return new Response(body, { status, headers });
}
