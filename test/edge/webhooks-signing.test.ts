// Standard Webhooks signatures as the public `standardwebhooks` library verifies them, URL rules and event filters.
import { describe, it, expect } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signatureOf, signedContent, webhookHeaders } from '../../edge/webhooks/signing.ts';
import { checkEndpointUrl, endpointWants, loopbackHttpAllowed } from '../../edge/webhooks/endpoint-rules.ts';

describe('signatures', () => {
  it('whsec_ secrets carry 32 random bytes in base64', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it('signs id.timestamp.body so the standardwebhooks library verifies it', async () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: 'video.live_stream.active', note: 'ünïcödé' });
    const now = Math.floor(Date.now() / 1000);
    const headers = await webhookHeaders([secret], 'evt_1', now, body);
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-timestamp']).toBe(String(now));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body + ' ', headers)).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
  });

  it('matches a known vector (the specification example)', async () => {
    // From the Standard Webhooks specification's test vectors.
    const signature = await signatureOf(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      signedContent('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
    );
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('during a rotation carries one signature per secret, each verifying on its own', async () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const body = '{"ok":true}';
    const headers = await webhookHeaders([current, previous], 'evt_2', Math.floor(Date.now() / 1000), body);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(new Webhook(current).verify(body, headers)).toEqual({ ok: true });
    expect(new Webhook(previous).verify(body, headers)).toEqual({ ok: true });
  });
});

describe('endpoint URLs', () => {
  const production = { allowLoopbackHttp: false };
  const development = { allowLoopbackHttp: true };
  it.each([
    ['https://example.com/hooks', null],
    ['https://example.com:8443/hooks?x=1', null],
    ['http://example.com/hooks', 'must be an https:// URL'],
    ['ftp://example.com/hooks', 'must be an https:// URL'],
    ['example.com/hooks', 'not an absolute URL'],
    ['https://user:pass@example.com/', 'credentials in the URL are not allowed; put them in the path or query'],
    ['https://example.com/#frag', 'a URL fragment is never sent; remove it'],
    ['http://127.0.0.1:8080/hook', 'http:// to a local address is only allowed in local development'],
    ['http://localhost/hook', 'http:// to a local address is only allowed in local development'],
    ['https://localhost/hook', 'a local address cannot receive webhooks'],
    ['https://10.1.2.3/hook', 'a private, loopback, link-local or reserved address cannot receive webhooks'],
    ['https://192.168.0.10/hook', 'a private, loopback, link-local or reserved address cannot receive webhooks'],
    ['https://172.20.0.1/hook', 'a private, loopback, link-local or reserved address cannot receive webhooks'],
    ['https://169.254.169.254/latest', 'a private, loopback, link-local or reserved address cannot receive webhooks'],
    ['https://[fd00::1]/hook', 'a private, loopback, link-local or reserved address cannot receive webhooks'],
    ['https://172.32.0.1/hook', null],
    [`https://example.com/${'a'.repeat(2100)}`, 'at most 2048 characters'],
  ])('%s in production → %s', (url, problem) => {
    expect(checkEndpointUrl(url, production)).toBe(problem);
  });

  it('accepts loopback http in local development, and still nothing else over http', () => {
    expect(checkEndpointUrl('http://127.0.0.1:8080/hook', development)).toBeNull();
    expect(checkEndpointUrl('http://localhost:3000/hook', development)).toBeNull();
    expect(checkEndpointUrl('http://[::1]:3000/hook', development)).toBeNull();
    expect(checkEndpointUrl('http://example.com/hook', development)).toBe('must be an https:// URL');
    expect(checkEndpointUrl('http://10.0.0.1/hook', development)).toBe('must be an https:// URL');
  });

  it('loopback is development when configured so, or when the API itself is called on loopback', () => {
    expect(loopbackHttpAllowed('true', 'https://api.example.com/v1/webhooks')).toBe(true);
    expect(loopbackHttpAllowed('false', 'http://127.0.0.1:8787/v1/webhooks')).toBe(false);
    expect(loopbackHttpAllowed(undefined, 'http://127.0.0.1:8787/v1/webhooks')).toBe(true);
    expect(loopbackHttpAllowed(undefined, 'http://localhost:8787/v1/webhooks')).toBe(true);
    expect(loopbackHttpAllowed(undefined, 'https://api.example.com/v1/webhooks')).toBe(false);
  });
});

describe('event filters', () => {
  it('an empty filter takes every type; otherwise only the listed ones', () => {
    expect(endpointWants([], 'video.live_stream.active')).toBe(true);
    expect(endpointWants(['video.live_stream.active'], 'video.live_stream.active')).toBe(true);
    expect(endpointWants(['video.live_stream.active'], 'video.live_stream.stopped')).toBe(false);
  });
});
