// An event's allowed domains (edge/allowed-domains.ts): the page's host from Origin or else Referer, and the match
// of exact names and '*.' wildcards.
import { describe, it, expect } from 'vitest';
import { hostAllowed, requestPageHost } from '../../edge/allowed-domains.ts';

describe('requestPageHost', () => {
  it.each([
    [{ origin: 'https://Player.Example.com:8443' }, 'player.example.com'],
    [{ origin: null, referer: 'https://www.example.com/watch?v=1#t' }, 'www.example.com'],
    [{ origin: 'https://a.example.com', referer: 'https://b.example.org/' }, 'a.example.com'],
    [{ origin: 'null', referer: 'https://b.example.org/page' }, 'b.example.org'],
    [{ origin: 'not a url', referer: 'also not' }, null],
    [{ origin: 'https://example.com.' }, 'example.com'],
    [{}, null],
  ])('%j → %s', (headers, host) => {
    expect(requestPageHost(headers)).toBe(host);
  });
});

describe('hostAllowed', () => {
  const allowed = ['example.com', '*.example.org'];
  it.each([
    ['example.com', true],
    ['EXAMPLE.com', true],
    ['www.example.com', false],
    ['notexample.com', false],
    ['example.org', false],
    ['player.example.org', true],
    ['a.b.example.org', true],
    ['evilexample.org', false],
    ['example.org.evil.com', false],
  ])('%s → %s', (host, verdict) => {
    expect(hostAllowed(host, allowed)).toBe(verdict);
  });

  it('a request naming no page is refused by a list, allowed without one', () => {
    expect(hostAllowed(null, allowed)).toBe(false);
    expect(hostAllowed(null, [])).toBe(true);
    expect(hostAllowed('anything.test', [])).toBe(true);
  });

  it('a bare "*." entry matches nothing', () => {
    expect(hostAllowed('example.com', ['*.'])).toBe(false);
  });
});
