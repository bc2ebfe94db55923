// Webhook URL checks, table-driven, inside workerd: its WHATWG URL parser canonicalizes IPv4 hosts written in decimal,
// octal, hex or short form, and IPv6 hosts (mapped, NAT64, compressed), before the rules classify the address.
import { describe, it, expect } from 'vitest';
import { checkEndpointUrl } from '../../edge/webhooks/endpoint-rules.ts';
import { api, createWorkspace, json } from './helpers.ts';

const production = { allowLoopbackHttp: false };
const development = { allowLoopbackHttp: true };

describe("workerd's URL parser canonicalizes hosts before the rules see them", () => {
  it.each([
    ['https://2130706433/', '127.0.0.1'],
    ['https://0177.0.0.1/', '127.0.0.1'],
    ['https://0x7f.1/', '127.0.0.1'],
    ['https://0x7f000001/', '127.0.0.1'],
    ['https://127.1/', '127.0.0.1'],
    ['https://127.0.0.1./', '127.0.0.1'],
    ['https://0/', '0.0.0.0'],
    ['https://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['https://[0:0:0:0:0:ffff:7f00:0001]/', '[::ffff:7f00:1]'],
    ['https://[64:ff9b::10.0.0.1]/', '[64:ff9b::a00:1]'],
    ['https://[FE80:0::1]/', '[fe80::1]'],
    ['https://LOCALHOST./', 'localhost.'],
    ['https://%6c%6fcalhost/', 'localhost'],
  ])('%s → %s', (raw, hostname) => {
    expect(new URL(raw).hostname).toBe(hostname);
  });
});

type Case = [url: string, expected: 'ok' | RegExp];
const PRIVATE = /private, loopback, link-local or reserved/;
const LOCAL_NAME = /not a public host name/;
const METADATA = /cloud metadata/;

// Loopback in every spelling the URL parser accepts: refused in production; in development it is the local receiver
// (https as today, and http with the switch on).
const loopback: [url: string][] = [
  ['https://127.0.0.1/h'],
  ['https://127.255.255.254/h'],
  ['https://2130706433/h'],
  ['https://0177.0.0.1/h'],
  ['https://0x7f.1/h'],
  ['https://0x7f000001/h'],
  ['https://127.1/h'],
  ['https://127.0.0.1./h'],
  ['https://017700000001/h'],
  ['https://[::1]/h'],
  ['https://[0:0:0:0:0:0:0:1]/h'],
];

// Refused in production and in development alike (https, so the loopback http exception never applies).
const refused: Case[] = [
  // this network, RFC 1918, CGNAT, link-local, metadata by address
  ['https://0.0.0.0/h', PRIVATE],
  ['https://0/h', PRIVATE],
  ['https://0.1.2.3/h', PRIVATE],
  ['https://10.0.0.8/h', PRIVATE],
  ['https://10.255.255.255/h', PRIVATE],
  ['https://167772161/h', PRIVATE],
  ['https://172.16.0.1/h', PRIVATE],
  ['https://172.31.255.255/h', PRIVATE],
  ['https://192.168.1.1/h', PRIVATE],
  ['https://0xc0.0xa8.1.1/h', PRIVATE],
  ['https://100.64.0.1/h', PRIVATE],
  ['https://100.127.255.255/h', PRIVATE],
  ['https://100.100.100.200/h', PRIVATE],
  ['https://169.254.0.1/h', PRIVATE],
  ['https://169.254.169.254/latest/meta-data', PRIVATE],
  ['https://2852039166/latest', PRIVATE],
  ['https://192.0.0.192/h', PRIVATE],
  ['https://192.0.2.1/h', PRIVATE],
  ['https://198.18.0.1/h', PRIVATE],
  ['https://198.19.255.255/h', PRIVATE],
  ['https://198.51.100.7/h', PRIVATE],
  ['https://203.0.113.9/h', PRIVATE],
  ['https://224.0.0.1/h', PRIVATE],
  ['https://239.255.255.250/h', PRIVATE],
  ['https://240.0.0.1/h', PRIVATE],
  ['https://255.255.255.255/h', PRIVATE],
  ['https://4294967295/h', PRIVATE],
  // IPv6: unspecified, loopback, mapped and compatible IPv4, NAT64 with a private IPv4, ULA, link-local, multicast
  ['https://[::]/h', PRIVATE],
  ['https://[::ffff:127.0.0.1]/h', PRIVATE],
  ['https://[::ffff:7f00:1]/h', PRIVATE],
  ['https://[::ffff:10.1.2.3]/h', PRIVATE],
  ['https://[::ffff:169.254.169.254]/h', PRIVATE],
  ['https://[::ffff:8.8.8.8]/h', PRIVATE],
  ['https://[::127.0.0.1]/h', PRIVATE],
  ['https://[::ffff:0:7f00:1]/h', PRIVATE],
  ['https://[64:ff9b::127.0.0.1]/h', PRIVATE],
  ['https://[64:ff9b::a00:1]/h', PRIVATE],
  ['https://[64:ff9b::169.254.169.254]/h', PRIVATE],
  ['https://[64:ff9b:1::a00:1]/h', PRIVATE],
  ['https://[2002:7f00:1::]/h', PRIVATE],
  ['https://[2002:c0a8:101::1]/h', PRIVATE],
  ['https://[fc00::1]/h', PRIVATE],
  ['https://[fd12:3456:789a::1]/h', PRIVATE],
  ['https://[fd00:ec2::254]/latest', PRIVATE],
  ['https://[fe80::1]/h', PRIVATE],
  ['https://[febf:ffff::1]/h', PRIVATE],
  ['https://[fec0::1]/h', PRIVATE],
  ['https://[ff02::1]/h', PRIVATE],
  ['https://[2001:db8::1]/h', PRIVATE],
  ['https://[100::1]/h', PRIVATE],
  ['https://[2001::1]/h', PRIVATE],
  // names that are never a public receiver
  ['https://localhost./h', LOCAL_NAME],
  ['https://LOCALHOST../h', LOCAL_NAME],
  ['https://printer.local/h', LOCAL_NAME],
  ['https://db.internal/h', LOCAL_NAME],
  ['https://host.docker.internal/h', LOCAL_NAME],
  ['https://router.localdomain/h', LOCAL_NAME],
  ['https://nas.home.arpa/h', LOCAL_NAME],
  ['https://1.0.0.127.in-addr.arpa/h', LOCAL_NAME],
  ['https://intranet/h', LOCAL_NAME],
  ['https://metadata/computeMetadata/v1', METADATA],
  ['https://metadata.google.internal/computeMetadata/v1', METADATA],
  ['https://METADATA.GOOGLE.INTERNAL./computeMetadata/v1', METADATA],
  ['https://metadata.goog/computeMetadata/v1', METADATA],
  ['https://instance-data/latest', METADATA],
  ['https://instance-data.ec2.internal/latest', METADATA],
  ['https://metadata.azure.com/metadata', METADATA],
  ['https://metadata.azure.internal/metadata', METADATA],
  ['https://metadata.tencentyun.com/latest', METADATA],
  ['https://metadata.oraclecloud.com/opc/v2', METADATA],
];

// Public receivers: accepted everywhere.
const accepted: Case[] = [
  ['https://example.com/hooks', 'ok'],
  ['https://example.com./hooks', 'ok'],
  ['https://hooks.example.co.uk:8443/riverhead?x=1', 'ok'],
  ['https://8.8.8.8/h', 'ok'],
  ['https://134744072/h', 'ok'],
  ['https://1.1.1.1/h', 'ok'],
  ['https://100.63.255.255/h', 'ok'],
  ['https://100.128.0.1/h', 'ok'],
  ['https://172.15.255.255/h', 'ok'],
  ['https://172.32.0.1/h', 'ok'],
  ['https://169.253.1.1/h', 'ok'],
  ['https://198.20.0.1/h', 'ok'],
  ['https://223.255.255.254/h', 'ok'],
  ['https://[2606:4700:4700::1111]/h', 'ok'],
  ['https://[2001:4860:4860::8888]/h', 'ok'],
  ['https://[64:ff9b::8.8.8.8]/h', 'ok'],
  ['https://[2002:808:808::1]/h', 'ok'],
  ['https://metadata.example.com/h', 'ok'],
  ['https://internal.example.com/h', 'ok'],
  ['https://xn--bcher-kva.example/h', 'ok'],
];

describe('refused everywhere: private, loopback, link-local, reserved addresses and local or metadata names', () => {
  it.each(refused)('%s', (url, expected) => {
    for (const rules of [production, development]) {
      const problem = checkEndpointUrl(url, rules);
      expect(problem, `${url} with ${JSON.stringify(rules)}`).toMatch(expected as RegExp);
    }
  });
});

describe('loopback: refused in production, the receiver on this machine in development', () => {
  it.each(loopback)('%s', (url) => {
    expect(checkEndpointUrl(url, production)).toMatch(/local address/);
    expect(checkEndpointUrl(url, development)).toBeNull();
  });
});

describe('accepted everywhere: public hosts', () => {
  it.each(accepted)('%s', (url) => {
    expect(checkEndpointUrl(url, production)).toBeNull();
    expect(checkEndpointUrl(url, development)).toBeNull();
  });
});

describe('the local-development exception is unchanged: http only to loopback, only with the switch on', () => {
  it.each([
    ['http://127.0.0.1:9999/hook', null, /only allowed in local development/],
    ['http://127.9.9.9:9999/hook', null, /only allowed in local development/],
    ['http://localhost:3000/hook', null, /only allowed in local development/],
    ['http://hooks.localhost/hook', null, /only allowed in local development/],
    ['http://[::1]:3000/hook', null, /only allowed in local development/],
    ['https://127.0.0.1:9999/hook', null, /local address/],
    ['https://localhost/hook', null, /local address/],
    ['http://example.com/hook', /https/, /https/],
    ['http://10.0.0.8/hook', /https/, /https/],
    ['http://169.254.169.254/latest', /https/, /https/],
    ['http://localhost./hook', /https/, /https/],
    ['http://[::ffff:127.0.0.1]/hook', /https/, /https/],
    ['http://2130706433/hook', null, /only allowed in local development/],
    ['ftp://example.com/hook', /https/, /https/],
  ] as const)('%s', (url, inDevelopment, inProduction) => {
    const dev = checkEndpointUrl(url, development);
    if (inDevelopment === null) expect(dev).toBeNull();
    else expect(dev).toMatch(inDevelopment);
    expect(checkEndpointUrl(url, production)).toMatch(inProduction);
  });

  it('still refuses credentials, fragments, non-URLs and overlong URLs', () => {
    expect(checkEndpointUrl('https://u:p@example.com/', production)).toMatch(/credentials/);
    expect(checkEndpointUrl('https://example.com/#x', production)).toMatch(/fragment/);
    expect(checkEndpointUrl('not a url', production)).toMatch(/absolute URL/);
    expect(checkEndpointUrl(`https://example.com/${'a'.repeat(2048)}`, production)).toMatch(/2048/);
    expect(checkEndpointUrl('https://[::1/', production)).toMatch(/absolute URL/);
  });
});

describe('the API answers 400 naming the url field', () => {
  it.each([
    'https://localhost./hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://[64:ff9b::a9fe:a9fe]/hook',
    'https://0x7f.1/hook',
    'https://metadata.google.internal/computeMetadata/v1',
  ])('%s on create and on update', async (url) => {
    const workspace = await createWorkspace('url-rules');
    const created = await api(workspace, 'POST', '/webhooks', { url });
    expect(created.status).toBe(400);
    expect(created.headers.get('content-type')).toBe('application/problem+json');
    const problem = await json(created);
    expect(problem.errors).toEqual([{ field: 'url', message: expect.any(String) }]);
    expect(problem.detail).toMatch(/^url: /);

    const ok = await json(await api(workspace, 'POST', '/webhooks', { url: 'https://example.com/hooks' }));
    const patched = await api(workspace, 'PATCH', `/webhooks/${ok.data.webhookId}`, { url });
    expect(patched.status).toBe(400);
    expect((await json(patched)).errors[0].field).toBe('url');
  });
});
