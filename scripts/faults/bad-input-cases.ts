// The bad-input corpus's cases: property-based requests generated from the OpenAPI document (bodies, queries, path
// ids, auth headers, content types, sizes, methods) plus playback JWT and Range cases and webhook URLs, each with the
// answer it must get; and the deterministic cross-workspace matrix. Plain data, so one case can be replayed by hand.
import fc from 'fast-check';
import { SignJWT, importPKCS8 } from 'jose';
import type { BadInputFixture } from './bad-inputs-fixture.ts';
import {
  HOSTILE_STRINGS,
  hostileString,
  invalidValues,
  locations,
  resolve,
  setAt,
  validValue,
  type JsonSchema,
  type OpenApiDocument,
  type ValueOverrides,
} from './json-schema-arbitraries.ts';

export type Expectation =
  /** a 4xx problem: the input is wrong */
  | { class: 'client-error' }
  /** any answer but a 5xx (the input may be acceptable); a 4xx must still be a proper problem */
  | { class: 'no-server-error' }
  /** exactly one of these statuses */
  | { class: 'status'; statuses: number[] }
  /** stored playback with a Range header: 200 whole, 206 the right bytes, or 416 bytes *\/size */
  | { class: 'range'; size: number; satisfiable: boolean | null };

export interface BadInputCase {
  kind: string;
  /** what was done to the input, for the report */
  note: string;
  method: string;
  /** path and query, already encoded */
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** send the body as a stream without Content-Length */
  streamed?: boolean;
  expect: Expectation;
  /** 5xx statuses the route documents (503: the origin holding the session is down) — allowed for inputs that may be valid */
  documented5xx?: number[];
}

export interface Route {
  method: string;
  template: string;
  pathParams: string[];
  query: { name: string; schema: JsonSchema }[];
  body: { schema: JsonSchema; required: boolean } | null;
  auth: 'access-token' | 'admin' | 'origin' | 'none';
  /** response statuses the document promises, e.g. 503 where the origin holding the session must be reached */
  documented: number[];
}

export function routesOf(doc: OpenApiDocument): Route[] {
  const routes: Route[] = [];
  for (const [template, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const parameters = operation.parameters ?? [];
      const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
      routes.push({
        method: method.toUpperCase(),
        template,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: bodySchema ? { schema: bodySchema, required: operation.requestBody?.required ?? false } : null,
        documented: Object.keys(operation.responses ?? {}).map(Number),
        auth: template.startsWith('/admin') ? 'admin' : template.startsWith('/internal') ? 'origin' : template.startsWith('/v1') ? 'access-token' : 'none',
      });
    }
  }
  return routes;
}

/** Percent-encodes the UTF-8 of a string (lone surrogates become U+FFFD, as a browser would send them). */
export function encodeSegment(value: string): string {
  return Array.from(new TextEncoder().encode(value), (byte) =>
    /[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
  ).join('');
}

/** Raw path segments that are already "encoded": broken escapes, encoded separators, invalid UTF-8. */
const RAW_SEGMENTS = ['%', '%ZZ', '%2', '%00', '%2F', '%2f..%2f', '%5C', '%ED%A0%80', '%C0%AF', '%FF%FE', '%E2%80%AE', '%0D%0A', '..%2F..%2Fadmin', '%252e'];

const fakeIds = (prefix: string) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9]{16,20}$/).map((s) => ({ raw: false, value: `${prefix}_${s}` })) },
    { weight: 2, arbitrary: hostileString.filter((s) => s.length > 0).map((value) => ({ raw: false, value })) },
    { weight: 1, arbitrary: fc.constantFrom(65, 300, 2000).map((n) => ({ raw: false, value: `${prefix}_${'z'.repeat(n)}` })) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((value) => ({ raw: true, value })) },
  );

const ID_PREFIX: Record<string, string> = {
  streamId: 'ls', livestreamId: 'ls', webhookId: 'wh', deliveryId: 'dlv', signingKeyId: 'sgk', recordingId: 'rec', accessTokenId: 'at', workspaceId: 'ws',
  eventId: 'le', destinationId: 'dst', videoId: 'vid',
};

export function fillPath(template: string, values: Record<string, { raw: boolean; value: string }>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const entry = values[name];
    if (!entry) return encodeSegment(`missing_${name}`);
    return entry.raw ? entry.value : encodeSegment(entry.value);
  });
}

/** Ids of A's own resources that bodies may be sent to without harm (never to DELETE, never A's own token). */
function ownIds(fixture: BadInputFixture): Record<string, { raw: boolean; value: string }> {
  const own = (value: string) => ({ raw: false, value });
  return {
    streamId: own(fixture.a.idleStreamId),
    livestreamId: own(fixture.a.idleStreamId),
    webhookId: own(fixture.a.webhookId),
    signingKeyId: own(fixture.a.signingKeyId),
    recordingId: own(fixture.a.recordingId),
    workspaceId: own(fixture.a.id),
    eventId: own(fixture.a.eventId),
    // on A's idle stream, the streamId above
    destinationId: own(fixture.a.destinationId),
    deliveryId: own('dlv_missing0000000000'),
    accessTokenId: own('at_missing000000000'),
    // waiting (an upload never sent): a PATCH changes its title or metadata only
    videoId: own(fixture.a.videoId),
  };
}

/** Ids that exist nowhere: routes that act without a body (commands, deletes, test sends) only ever get these. */
function missingIds(): Record<string, { raw: boolean; value: string }> {
  return Object.fromEntries(Object.entries(ID_PREFIX).map(([name, prefix]) => [name, { raw: false, value: `${prefix}_missing000000000` }]));
}

function authFor(route: Route, fixture: BadInputFixture): Record<string, string> {
  if (route.auth === 'admin') return { authorization: `Bearer ${fixture.adminToken}` };
  if (route.auth === 'access-token') return { authorization: fixture.a.auth };
  return {};
}

const json = { 'content-type': 'application/json' };
/**
 * Valid-body overrides: a created webhook points nowhere real and stays disabled, so nothing is ever delivered; A's
 * live stream stays private, so the JWT cases keep meaning something.
 */
const overrides = {
  url: fc.constantFrom('https://hooks.example.com/riverhead', 'https://example.org/h?x=1'),
  enabled: fc.constant(false),
  accessPolicy: fc.constant('private'),
};
/** Instants the schema only calls `format: date-time`: starts ahead of (or once behind) now, ends after every start. */
const instants = {
  scheduledStartAt: fc.constantFrom('2035-03-01T18:00:00Z', '2035-06-15T09:30:00.000+02:00', '2020-01-01T00:00:00Z'),
  scheduledEndAt: fc.constantFrom(null, '2036-03-01T20:00:00Z'),
  startAt: fc.constantFrom(null, '2036-04-01T00:00:00Z'),
  endAt: fc.constantFrom(null, '2036-05-01T00:00:00Z'),
};
/**
 * Per route, so that valid bodies get past the schema to the route's own checks: a destination publishes to an
 * rtmp(s):// server (not a webhook's https://) and stays disabled, so nothing is ever relayed; an event's instants are
 * real date-times, its simulive source is A's exportable recording, and ullEnabled (always refused today) is false.
 */
function overridesFor(route: Route, fixture: BadInputFixture): ValueOverrides {
  if (route.template.includes('/destinations')) {
    return {
      ...overrides,
      url: fc.constantFrom('rtmp://live.example.com/app', 'rtmps://live.example.com:443/live2'),
      platform: fc.constant('rtmp'),
      // a rung of the idle stream's ladder (its pattern alone names none)
      rendition: fc.constantFrom('source', '720p'),
    };
  }
  if (route.template.startsWith('/v1/live/events')) {
    return { ...overrides, ...instants, ullEnabled: fc.constant(false), recordingId: fc.constant(fixture.a.recordingId) };
  }
  return overrides;
}
const encodeBody = (value: unknown) => JSON.stringify(value);

// ---------------------------------------------------------------------------------------------------------------
// Generators by kind. Each returns an arbitrary of cases for the routes it applies to.

function bodyCases(routes: Route[], doc: OpenApiDocument, fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  // Bodies go to A's own stream and webhook (PATCH) or to creation routes; never to admin (it would create workspaces).
  const targets = routes.filter((r) => r.body && r.auth === 'access-token');
  return fc.constantFrom(...targets).chain((route) => {
    const schema = resolve(route.body!.schema, doc);
    const path = fillPath(route.template, ownIds(fixture));
    const headers = { ...authFor(route, fixture), ...json };
    const valid = validValue(schema, doc, overridesFor(route, fixture));
    const mutated = valid.chain((value) => {
      const spots = locations(value, schema, doc).filter((spot) => invalidValues(spot.schema, doc).length > 0);
      if (spots.length === 0) return fc.constant({ value, note: 'valid (no mutable spot)', bad: false });
      return fc.constantFrom(...spots).chain((spot) =>
        fc.constantFrom(...invalidValues(spot.schema, doc)).map((bad) => ({
          value: setAt(value, spot.path, bad),
          note: `${spot.path.join('.') || '(body)'} = ${JSON.stringify(bad)?.slice(0, 60)}`,
          bad: true,
        })),
      );
    });
    // Names some other body has (a stream's key, a destination's is a real field) are unknown only where the schema lacks them.
    const unknownNames = ['unknownField', '__proto__', 'constructor', 'streamKey', 'workspaceId', 'STATUS', ''].filter((name) => !Object.hasOwn(schema.properties ?? {}, name));
    const unknownField = valid.chain((value) =>
      fc.constantFrom(...unknownNames).map((key) => {
        const rest = JSON.stringify(value).slice(1);
        return { text: `{${JSON.stringify(key)}: 1${rest === '}' ? '' : ', '}${rest}`, note: `unknown field ${JSON.stringify(key)}`, bad: true };
      }),
    );
    const plainValid = valid.map((value) => ({ value, note: 'valid from the schema', bad: false }));
    return fc
      .oneof(
        { weight: 6, arbitrary: mutated.map(({ value, ...rest }) => ({ text: encodeBody(value), ...rest })) },
        { weight: 2, arbitrary: unknownField },
        { weight: 1, arbitrary: plainValid.map(({ value, ...rest }) => ({ text: encodeBody(value), ...rest })) },
      )
      .map(({ text, note, bad }): BadInputCase => ({
        kind: 'body',
        note: `${route.method} ${route.template}: ${note}`,
        method: route.method,
        path,
        headers,
        body: text,
        expect: bad ? { class: 'client-error' } : { class: 'no-server-error' },
        documented5xx: route.documented.filter((status) => status >= 500),
      }));
  });
}

const MALFORMED_JSON: [string, string | Uint8Array][] = [
  ['truncated object', '{'],
  ['truncated value', '{"record":'],
  ['bare word', 'nul'],
  ['bad literal', '{"record": tru}'],
  ['trailing comma', '{"record": true,}'],
  ['garbage after', '{}garbage'],
  ['NaN', '{"reconnectWindow": NaN}'],
  ['huge exponent', '{"reconnectWindow": 1e999999}'],
  ['single quotes', "{'record': true}"],
  // Under the 64 KiB limit, so the parser itself meets them.
  ['deep array nesting', '['.repeat(60_000)],
  ['deep object nesting', '{"a":'.repeat(12_000)],
  ['string', '"just a string"'],
  ['number', '123'],
  ['null', 'null'],
  ['array', '[]'],
  ['true', 'true'],
  ['empty string', ''],
  ['whitespace', ' \n\t '],
  // RFC 8259 §8.1: a parser may ignore a BOM; the fetch body reader does.
  ['BOM then {}', '\ufeff{}'],
  ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
  ['UTF-16LE JSON', new Uint8Array([0x7b, 0x00, 0x7d, 0x00])],
  ['NUL bytes', new Uint8Array([0x7b, 0x00, 0x7d])],
  ['duplicate keys', '{"record": true, "record": "yes"}'],
  ['proto pollution', '{"__proto__": {"isAdmin": true}}'],
  ['lone surrogate escape in key', '{"\\ud800": 1}'],
];

function malformedJsonCases(routes: Route[], fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const targets = routes.filter((r) => r.body && r.auth === 'access-token');
  return fc.tuple(fc.constantFrom(...targets), fc.constantFrom(...MALFORMED_JSON)).map(([route, [name, body]]) => {
    // An empty body is no body: a create with every field defaulted is fine where the body is optional.
    const empty = typeof body === 'string' && body.trim() === '';
    return {
      kind: 'malformed-json',
      note: `${route.method} ${route.template}: ${name}`,
      method: route.method,
      path: fillPath(route.template, ownIds(fixture)),
      headers: { ...authFor(route, fixture), ...json },
      body,
      expect: (empty && !route.body!.required) || name === 'BOM then {}' ? { class: 'no-server-error' } : { class: 'client-error' },
    };
  });
}

const CONTENT_TYPES: [string | null, boolean][] = [
  [null, false],
  ['text/plain', false],
  ['text/plain; charset=utf-8', false],
  ['application/x-www-form-urlencoded', false],
  ['multipart/form-data; boundary=x', false],
  ['application/xml', false],
  ['application/jsonx', false],
  // JSON has no charset but UTF-8 (RFC 8259 §8.1): a charset parameter is ignored, like a BOM.
  ['application/json; charset=utf-16', true],
  ['application/octet-stream', false],
  ['*/*', false],
  ['application/json', true],
  ['application/json; charset=utf-8', true],
  ['APPLICATION/JSON', true],
];

function contentTypeCases(routes: Route[], doc: OpenApiDocument, fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const targets = routes.filter((r) => r.body && r.auth === 'access-token');
  return fc.tuple(fc.constantFrom(...targets), fc.constantFrom(...CONTENT_TYPES)).chain(([route, [type, acceptable]]) =>
    validValue(resolve(route.body!.schema, doc), doc, overridesFor(route, fixture)).map((value): BadInputCase => ({
      kind: 'content-type',
      note: `${route.method} ${route.template}: content-type ${type ?? '(none)'}`,
      method: route.method,
      path: fillPath(route.template, ownIds(fixture)),
      headers: { ...authFor(route, fixture), ...(type === null ? {} : { 'content-type': type }) },
      body: encodeBody(value),
      expect: acceptable ? { class: 'no-server-error' } : { class: 'client-error' },
      documented5xx: route.documented.filter((status) => status >= 500),
    })),
  );
}

const MAX_BODY = 64 * 1024;

function sizeCases(routes: Route[], fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const targets = routes.filter((r) => ['POST', 'PATCH', 'PUT'].includes(r.method) && r.auth === 'access-token');
  return fc
    .tuple(fc.constantFrom(...targets), fc.constantFrom(MAX_BODY - 1, MAX_BODY, MAX_BODY + 1, 4 * MAX_BODY), fc.boolean())
    .map(([route, size, streamed]) => {
      // {"padding":"xxx…"} of exactly `size` bytes: an unknown field, so a body that gets through is still refused.
      const body = `{"padding":"${'x'.repeat(size - 14)}"}`;
      const over = size > MAX_BODY;
      return {
        kind: 'body-size',
        note: `${route.method} ${route.template}: ${size} bytes${streamed ? ' streamed, no Content-Length' : ''}`,
        method: route.method,
        path: fillPath(route.template, route.body ? ownIds(fixture) : missingIds()),
        headers: { ...authFor(route, fixture), ...json },
        body,
        streamed,
        // Over the limit: 413. At or under it: the unknown field is a 400 where a body is read; routes that take no
        // body (POST /signing-keys, lifecycle commands) may ignore it.
        expect: over ? { class: 'status', statuses: [413] } : route.body ? { class: 'client-error' } : { class: 'no-server-error' },
      };
    });
}

/** true: valid; false: must be refused; null: Number() reads it (z.coerce), so either answer is fine. */
const LIMITS: [string, boolean | null][] = [
  ['1', true], ['100', true], ['20', true], ['0', false], ['101', false], ['-1', false], ['1.5', false], ['abc', false], ['', false],
  ['1e2', null], ['0x10', null], [' 5', null], ['9'.repeat(400), false], ['%00', false], ['%E2%80%AE5', false], ['Infinity', false], ['NaN', false],
];

function queryCases(routes: Route[], doc: OpenApiDocument, fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const targets = routes.filter((r) => r.method === 'GET' && r.query.length > 0 && r.auth === 'access-token');
  const cursor = fc.oneof(
    fc.constant({ value: fixture.a.cursor ?? '', known: true, note: 'a real cursor' }),
    fc.constant({ value: encodeURIComponent((fixture.a.cursor ?? 'abc').slice(0, -3)), known: false, note: 'truncated cursor' }),
    fc.constant({ value: encodeURIComponent((fixture.a.cursor ?? 'abc').replace(/^./, (ch) => (ch === 'W' ? 'X' : 'W'))), known: false, note: 'flipped cursor' }),
    fc.constantFrom('[1,2]', '["a"]', '{"a":1}', '["x","y","z"]', '"s"', 'null', '[null,null]', '[["a"],"b"]', '["\ud800","\u0000"]').map((text) => ({
      value: encodeURIComponent(btoa(String.fromCharCode(...new TextEncoder().encode(text)))),
      known: false,
      note: `base64 of ${text}`,
    })),
    fc.constantFrom('%', '%ZZ', '!!!!', 'a'.repeat(201), 'a'.repeat(200), '%00', '%ED%A0%80', '====', '-_-_', encodeURIComponent('💥')).map((value) => ({
      value,
      known: false,
      note: `cursor ${value.slice(0, 20)}`,
    })),
  );
  return fc
    .tuple(
      fc.constantFrom(...targets),
      fc.option(fc.constantFrom(...LIMITS), { nil: undefined }),
      fc.option(cursor, { nil: undefined }),
      fc.option(fc.constantFrom('BOGUS', 'streaming', '', 'NOT_STARTED', 'pending', '%00'), { nil: undefined }),
      fc.option(fc.constantFrom('unknown=1', 'limit=1&limit=2', 'cursor[]=x', '__proto__=1', 'a'.repeat(3000) + '=1'), { nil: undefined }),
    )
    .map(([route, limit, cur, status, extra]) => {
      const parts: string[] = [];
      let bad = false;
      let certain = true;
      const takes = (name: string) => route.query.some((q) => q.name === name);
      if (limit) {
        parts.push(`limit=${limit[0]}`);
        if (!takes('limit')) bad = true;
        if (limit[1] === false) bad = true;
        if (limit[1] === null) certain = false;
      }
      if (cur && takes('cursor')) {
        parts.push(`cursor=${cur.value}`);
        if (!cur.known) certain = false;
      }
      const statusParam = route.query.find((q) => q.name === 'status');
      if (status !== undefined && statusParam) {
        parts.push(`status=${status}`);
        if (!(resolve(statusParam.schema, doc).enum ?? []).includes(status)) bad = true;
      }
      if (extra) {
        parts.push(extra);
        if (extra === 'limit=1&limit=2') certain = false;
        else bad = true;
      }
      return {
        kind: 'query',
        note: `${route.template}?${parts.join('&').slice(0, 120)}`,
        method: 'GET',
        path: `${fillPath(route.template, ownIds(fixture))}${parts.length ? `?${parts.join('&')}` : ''}`,
        headers: authFor(route, fixture),
        expect: bad ? { class: 'client-error' } : certain ? { class: 'status', statuses: [200] } : { class: 'no-server-error' },
      };
    });
}

function pathCases(routes: Route[], fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const targets = routes.filter((r) => r.pathParams.length > 0 && r.auth !== 'origin');
  return fc.constantFrom(...targets).chain((route) =>
    fc.tuple(...route.pathParams.map((name) => fakeIds(ID_PREFIX[name] ?? 'x'))).map((values): BadInputCase => {
      const filled = Object.fromEntries(route.pathParams.map((name, i) => [name, values[i]!]));
      return {
        kind: 'path-id',
        note: `${route.method} ${route.template}: ${route.pathParams.map((n) => `${n}=${JSON.stringify(filled[n]!.value).slice(0, 40)}`).join(' ')}`,
        method: route.method,
        path: fillPath(route.template, filled),
        headers: { ...authFor(route, fixture), ...(route.body ? json : {}) },
        body: route.body ? '{}' : undefined,
        expect: { class: 'client-error' },
      };
    }),
  );
}

function authCases(routes: Route[], fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const targets = routes.filter((r) => r.auth !== 'none');
  const [tokenId, tokenSecret] = atob(fixture.a.auth.slice('Basic '.length)).split(':') as [string, string];
  const variants: [string, string | null][] = [
    ['missing', null],
    ['empty', ''],
    ['scheme only', 'Basic'],
    ['bearer only', 'Bearer'],
    ['malformed base64', 'Basic !!!not-base64!!!'],
    ['base64 without colon', `Basic ${btoa('nocolonhere')}`],
    ['empty id', `Basic ${btoa(':secret')}`],
    ['empty secret', `Basic ${btoa(`${tokenId}:`)}`],
    ['wrong secret', `Basic ${btoa(`${tokenId}:${tokenSecret}x`)}`],
    ['wrong scheme', `Token ${tokenId}:${tokenSecret}`],
    ['digest scheme', `Digest username="${tokenId}"`],
    ["B's token id with A's secret", `Basic ${btoa(`${fixture.b.accessTokenId}:${tokenSecret}`)}`],
    ['revoked token', fixture.a.revokedAuth],
    ['admin token as bearer', `Bearer ${fixture.adminToken}`],
    ['huge bearer (8 KiB)', `Bearer ${'a'.repeat(8 * 1024)}`],
    ['huge basic (32 KiB)', `Basic ${btoa('a'.repeat(24 * 1024) + ':b')}`],
    ['latin-1 bytes', `Basic ${'\u00ff\u00fe'.repeat(10)}`],
    ['double space', `Basic  ${btoa(`${tokenId}:x`)}`],
    ['two credentials', `Basic ${btoa(`${tokenId}:x`)}, Basic ${btoa(`${tokenId}:y`)}`],
    ['latin-1 secret', `Bearer ${tokenId}:\u00e9\u00e8`],
    ['id of 10 KiB', `Bearer ${'i'.repeat(10 * 1024)}:s`],
  ];
  const adminVariants: [string, string | null][] = [
    ['missing', null],
    ['wrong admin token', `Bearer ${fixture.adminToken}x`],
    ['access token as admin', fixture.a.auth],
    ['admin token as basic', `Basic ${btoa(`admin:${fixture.adminToken}`)}`],
    ['huge bearer', `Bearer ${'a'.repeat(16 * 1024)}`],
  ];
  const originVariants: [string, Record<string, string>][] = [
    ['unsigned', {}],
    ['garbage signature', { 'x-riverhead-timestamp': String(Math.floor(Date.now() / 1000)), 'x-riverhead-signature': 'v1=zz' }],
    ['old timestamp', { 'x-riverhead-timestamp': '1', 'x-riverhead-signature': `v1=${'0'.repeat(64)}` }],
    ['wrong signature', { 'x-riverhead-timestamp': String(Math.floor(Date.now() / 1000)), 'x-riverhead-signature': `v1=${'ab'.repeat(32)}` }],
    ['huge timestamp', { 'x-riverhead-timestamp': '9'.repeat(40), 'x-riverhead-signature': 'v1=00' }],
  ];
  return fc.constantFrom(...targets).chain((route) => {
    const path = fillPath(route.template, { ...ownIds(fixture), accessTokenId: { raw: false, value: fixture.a.accessTokenId } });
    const body = route.body ? '{}' : undefined;
    if (route.auth === 'origin') {
      return fc.constantFrom(...originVariants).map(([name, headers]): BadInputCase => ({
        kind: 'auth', note: `${route.method} ${route.template}: ${name}`, method: route.method, path, headers: { ...headers, ...json }, body: '{}', expect: { class: 'status', statuses: [401] },
      }));
    }
    return fc.constantFrom(...(route.auth === 'admin' ? adminVariants : variants)).map(([name, value]): BadInputCase => ({
      kind: 'auth',
      note: `${route.method} ${route.template}: ${name}`,
      method: route.method,
      path,
      headers: { ...(value === null ? {} : { authorization: value }), ...(body ? json : {}) },
      body,
      expect: { class: 'status', statuses: [401] },
    }));
  });
}

function methodCases(routes: Route[], fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const byTemplate = new Map<string, Set<string>>();
  for (const r of routes) byTemplate.set(r.template, (byTemplate.get(r.template) ?? new Set()).add(r.method));
  const pairs: [Route, string][] = [];
  for (const r of routes.filter((route) => route.auth === 'access-token')) {
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) if (!byTemplate.get(r.template)!.has(method)) pairs.push([r, method]);
  }
  const unique = [...new Map(pairs.map(([r, m]) => [`${m} ${r.template}`, [r, m] as [Route, string]])).values()];
  return fc.constantFrom(...unique).map(([route, method]): BadInputCase => ({
    kind: 'method',
    note: `${method} ${route.template} (not a route)`,
    method,
    path: fillPath(route.template, missingIds()),
    headers: { ...authFor(route, fixture), ...(method === 'GET' || method === 'DELETE' ? {} : json) },
    body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
    expect: { class: 'client-error' },
  }));
}

export const WEBHOOK_URLS = [
  'http://127.0.0.1:9/hook',
  'https://127.0.0.1/hook',
  'https://localhost/hook',
  'https://localhost./hook',
  'https://foo.localhost/hook',
  'https://[::1]/hook',
  'https://[::ffff:127.0.0.1]/hook',
  'https://[::ffff:7f00:1]/hook',
  'https://[64:ff9b::a00:1]/hook',
  'https://[fe80::1]/hook',
  'https://[fc00::1]/hook',
  'https://169.254.169.254/latest/meta-data/',
  'https://metadata.google.internal/computeMetadata/v1/',
  'https://10.0.0.1/hook',
  'https://192.168.1.1/hook',
  'https://172.16.0.1/hook',
  'https://100.64.0.1/hook',
  'https://0.0.0.0/hook',
  'https://0/hook',
  'https://2130706433/hook',
  'https://0x7f000001/hook',
  'https://0177.0.0.1/hook',
  'https://127.1/hook',
  'ftp://example.com/hook',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'data:text/plain,hi',
  'not a url',
  'https://',
  'https://example.com:99999/hook',
  'https://exa mple.com/hook',
  'https://example.com\u0000.evil/hook',
];

function webhookUrlCases(fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  return fc.constantFrom(...WEBHOOK_URLS).map((url): BadInputCase => ({
    kind: 'webhook-url',
    note: `POST /v1/webhooks url=${JSON.stringify(url)}`,
    method: 'POST',
    path: '/v1/webhooks',
    headers: { authorization: fixture.a.auth, ...json },
    body: JSON.stringify({ url, enabled: false }),
    expect: { class: 'status', statuses: [400] },
  }));
}

/** Tokens that must never open A's private playback: made once (signing is async), picked from by the generator. */
export async function refusedPlaybackTokens(fixture: BadInputFixture): Promise<[string, string][]> {
  const now = Math.floor(Date.now() / 1000);
  const aKey = await importPKCS8(fixture.a.signingKeyPkcs8Pem, 'RS256');
  const bKey = await importPKCS8(fixture.b.signingKeyPkcs8Pem, 'RS256');
  const sub = fixture.a.privatePlaybackId;
  const kid = fixture.a.signingKeyId;
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, key = aKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, ...header }).sign(key);
  const b64 = (value: unknown) => btoa(JSON.stringify(value)).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
  const hs256 = async (secret: string) => {
    const header = b64({ alg: 'HS256', kid });
    const payload = b64({ sub, exp: now + 600 });
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${header}.${payload}`)));
    return `${header}.${payload}.${btoa(String.fromCharCode(...mac)).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '')}`;
  };
  return [
    ['alg none', `${b64({ alg: 'none', kid })}.${b64({ sub, exp: now + 600 })}.`],
    ['alg none, no signature part', `${b64({ alg: 'none', kid })}.${b64({ sub, exp: now + 600 })}`],
    ['HS256 keyed with the public key PEM', await hs256(fixture.a.signingKeySpkiPem)],
    ['HS256 keyed with the kid', await hs256(kid)],
    ['wrong kid', await sign({ sub, exp: now + 600 }, { kid: 'sgk_doesnotexist000000' })],
    ["B's kid", await sign({ sub, exp: now + 600 }, { kid: fixture.b.signingKeyId })],
    ["signed by B's key with A's kid", await sign({ sub, exp: now + 600 }, {}, bKey)],
    ['no kid', await new SignJWT({ sub, exp: now + 600 }).setProtectedHeader({ alg: 'RS256' }).sign(aKey)],
    ['kid of 1000 chars', await sign({ sub, exp: now + 600 }, { kid: 'k'.repeat(1000) })],
    ['numeric kid', await sign({ sub, exp: now + 600 }, { kid: 42 })],
    ['expired', await sign({ sub, exp: now - 10 })],
    ['exp 0', await sign({ sub, exp: 0 })],
    ['exp negative', await sign({ sub, exp: -1 })],
    ['exp as string', await sign({ sub, exp: String(now + 600) })],
    ['exp in year 9999', await sign({ sub, exp: Date.UTC(9999, 11, 31) / 1000 })],
    ['exp 8 days ahead', await sign({ sub, exp: now + 8 * 86400 })],
    ['exp 1e300', await sign({ sub, exp: 1e300 })],
    ['no exp', await sign({ sub })],
    ['no sub', await sign({ exp: now + 600 })],
    ['sub mismatch', await sign({ sub: 'pb_someoneelse', exp: now + 600 })],
    ['sub as array', await sign({ sub: [sub], exp: now + 600 })],
    ['nbf in the future', await sign({ sub, exp: now + 600, nbf: now + 3600 })],
    ['RS512 header', await new SignJWT({ sub, exp: now + 600 }).setProtectedHeader({ alg: 'RS512', kid }).sign(await importPKCS8(fixture.a.signingKeyPkcs8Pem, 'RS512'))],
    ['signature stripped', (await sign({ sub, exp: now + 600 })).replace(/\.[^.]+$/, '.')],
    ['payload swapped', (await sign({ sub, exp: now + 600 })).replace(/\.[^.]+\./, `.${b64({ sub, exp: now + 86400 * 6 })}.`)],
    ['two parts', 'eyJhbGciOiJSUzI1NiJ9.e30'],
    ['four parts', 'a.b.c.d'],
    ['garbage', 'not-a-jwt'],
    ['huge token', `${b64({ alg: 'RS256', kid })}.${'A'.repeat(16 * 1024)}.sig`],
    ['header not JSON', `${btoa('{{{')}.${b64({ sub })}.sig`],
  ];
}

function jwtCases(fixture: BadInputFixture, tokens: [string, string][]): fc.Arbitrary<BadInputCase> {
  const objects = ['master.m3u8', `${fixture.a.liveSessionId}/source/index.m3u8`, `${fixture.a.liveSessionId}/source/seg_00000.ts`, 'thumbnail.jpg'];
  const garbage = fc.string({ unit: 'binary', maxLength: 200 }).map((s) => ['random string', s] as [string, string]);
  return fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...tokens) }, { weight: 1, arbitrary: garbage }), fc.constantFrom(...objects)).map(([[name, token], object]) => ({
    kind: 'jwt',
    note: `private playback ${object}: ${name}`,
    method: 'GET',
    path: `/hls/${fixture.a.privatePlaybackId}/${object}?token=${encodeSegment(token)}`,
    headers: {},
    // The token is checked before anything else is looked at: 403, whatever the object.
    expect: { class: 'status', statuses: [403] },
  }));
}

function rangeCases(fixture: BadInputFixture): fc.Arbitrary<BadInputCase> {
  const size = fixture.a.storedMp4Size;
  const position = fc.oneof(fc.integer({ min: 0, max: size + 10 }), fc.constantFrom(0, size - 1, size, size + 1, 2 ** 53, 10 ** 20));
  const header = fc.oneof(
    fc.tuple(position, position).map(([a, b]) => ({ value: `bytes=${a}-${b}`, satisfiable: a <= b && a < size ? true : a > b || a >= size ? false : null })),
    position.map((a) => ({ value: `bytes=${a}-`, satisfiable: a < size })),
    position.map((n) => ({ value: `bytes=-${n}`, satisfiable: n > 0 })),
    fc.constantFrom('bytes=500-100', 'bytes=-0', 'bytes=0-0,5-10', 'bytes=', 'bytes=-', 'items=0-1', 'bytes=a-b', 'bytes 0-1', 'bytes=--1', 'bytes=1-2-3', 'bytes=0-1, 2-3', ' bytes=0-1 ', 'BYTES=0-1', 'bytes=00000000000000000000000000000000001-2', 'bytes=\u00ff-1').map((value) => ({ value, satisfiable: null })),
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => ({ value: s, satisfiable: null })),
  );
  return header.map(({ value, satisfiable }): BadInputCase => ({
    kind: 'range',
    note: `stored MP4, Range: ${JSON.stringify(value).slice(0, 60)}`,
    method: 'GET',
    path: fixture.a.storedMp4Path,
    headers: { range: value },
    expect: { class: 'range', size, satisfiable },
  }));
}

/** Every generated kind, weighted so that each route and kind is visited many times in a 10,000-case run. */
export const CASE_KINDS = ['body', 'malformed-json', 'content-type', 'body-size', 'query', 'path-id', 'auth', 'method', 'webhook-url', 'jwt', 'range'] as const;

export function caseArbitrary(
  doc: OpenApiDocument,
  fixture: BadInputFixture,
  tokens: [string, string][],
  kinds: readonly string[] = CASE_KINDS,
): fc.Arbitrary<BadInputCase> {
  const routes = routesOf(doc);
  const all: [string, number, () => fc.Arbitrary<BadInputCase>][] = [
    ['body', 20, () => bodyCases(routes, doc, fixture)],
    ['malformed-json', 6, () => malformedJsonCases(routes, fixture)],
    ['content-type', 6, () => contentTypeCases(routes, doc, fixture)],
    ['body-size', 4, () => sizeCases(routes, fixture)],
    ['query', 12, () => queryCases(routes, doc, fixture)],
    ['path-id', 14, () => pathCases(routes, fixture)],
    ['auth', 14, () => authCases(routes, fixture)],
    ['method', 4, () => methodCases(routes, fixture)],
    ['webhook-url', 3, () => webhookUrlCases(fixture)],
    ['jwt', 8, () => jwtCases(fixture, tokens)],
    ['range', 9, () => rangeCases(fixture)],
  ];
  return fc.oneof(...all.filter(([kind]) => kinds.includes(kind)).map(([, weight, make]) => ({ weight, arbitrary: make() })));
}

// ---------------------------------------------------------------------------------------------------------------
// The cross-workspace matrix: every route with an id, called by A with B's real id and with a missing id of the same
// shape. Both must be the same 404 (same type and title; the detail may name the id). A nested id (a destination of a
// stream) is tried twice: under B's own parent, and under A's own parent (B's child id must not be found through A's).

export interface MatrixPair {
  route: string;
  theirs: BadInputCase;
  missing: BadInputCase;
}

/** Bodies the schema accepts, so that the id, not the body, decides the answer (400 before 404 would hide a leak). */
const VALID_BODIES: Record<string, unknown> = {
  'PATCH /v1/live/streams/{streamId}': { record: true },
  'PATCH /v1/webhooks/{webhookId}': { description: 'cross-workspace' },
  'POST /v1/live/streams/{streamId}/clips': { startTime: 0, endTime: 1 },
  'POST /v1/live/streams/{streamId}/destinations': { platform: 'rtmp', url: 'rtmp://live.example.com/app', streamKey: 'cross-workspace', enabled: false },
  'PATCH /v1/live/streams/{streamId}/destinations/{destinationId}': { name: 'cross-workspace' },
  'PATCH /v1/live/events/{eventId}': { name: 'cross-workspace' },
  'POST /v1/live/events/{eventId}/preview': {},
  'POST /v1/live/events/{eventId}/start': {},
  'POST /v1/live/events/{eventId}/end': {},
  'POST /v1/live/events/{eventId}/cancel': {},
  'POST /v1/live/events/{eventId}/archive': {},
  'POST /v1/live/events/{eventId}/reopen': { scheduledStartAt: '2036-06-01T00:00:00Z' },
  'PATCH /v1/videos/{videoId}': { title: 'cross-workspace' },
};

export function crossWorkspaceMatrix(doc: OpenApiDocument, fixture: BadInputFixture): MatrixPair[] {
  const theirs: Record<string, string> = {
    streamId: fixture.b.streamId,
    livestreamId: fixture.b.streamId,
    webhookId: fixture.b.webhookId,
    signingKeyId: fixture.b.signingKeyId,
    recordingId: fixture.b.recordingId,
    accessTokenId: fixture.b.accessTokenId,
    eventId: fixture.b.eventId,
    // on B's stream, the streamId above
    destinationId: fixture.b.destinationId,
    videoId: fixture.b.videoId,
  };
  const own = ownIds(fixture);
  const pairs: MatrixPair[] = [];
  for (const route of routesOf(doc)) {
    if (route.pathParams.length === 0 || route.auth === 'origin') continue;
    if (route.auth === 'admin' && route.method !== 'DELETE') continue; // the admin sees every workspace by design
    if (!route.pathParams.some((name) => name in theirs)) continue;
    const key = `${route.method} ${route.template}`;
    const body = VALID_BODIES[key];
    if (route.body?.required && body === undefined) throw new Error(`bad-inputs: VALID_BODIES has no body for ${key} (its 400 would hide the 404 the matrix checks)`);
    /** `parentsOwn`: the ids before the last one are A's own, only the last is B's (or missing). */
    const build = (mode: 'theirs' | 'missing', parentsOwn: boolean): BadInputCase => {
      const values: Record<string, { raw: boolean; value: string }> = {};
      const last = route.pathParams[route.pathParams.length - 1];
      for (const name of route.pathParams) {
        if (name === 'workspaceId') values[name] = { raw: false, value: fixture.a.id };
        else if (parentsOwn && name !== last) values[name] = own[name]!;
        else if (mode === 'theirs' && theirs[name]) values[name] = { raw: false, value: theirs[name]! };
        else {
          const shape = theirs[name] ?? `${ID_PREFIX[name] ?? 'x'}_0000000000000000`;
          values[name] = { raw: false, value: shape.replace(/_(.*)$/, (_, rest: string) => `_${'0'.repeat(rest.length)}`) };
        }
      }
      return {
        kind: 'cross-workspace',
        note: `${key} with ${mode === 'theirs' ? "workspace B's id" : 'a missing id'}${parentsOwn ? " under A's own parent" : ''}`,
        method: route.method,
        path: fillPath(route.template, values),
        headers: { ...authFor(route, fixture), ...(body ? json : {}) },
        body: body ? JSON.stringify(body) : undefined,
        expect: { class: 'status', statuses: [404] },
      };
    };
    pairs.push({ route: key, theirs: build('theirs', false), missing: build('missing', false) });
    const parents = route.pathParams.slice(0, -1).filter((name) => name !== 'workspaceId');
    const child = route.pathParams[route.pathParams.length - 1]!;
    if (parents.length > 0 && child in theirs && parents.every((name) => own[name])) {
      pairs.push({ route: `${key} (A's parent)`, theirs: build('theirs', true), missing: build('missing', true) });
    }
  }
  return pairs;
}

export { HOSTILE_STRINGS };
