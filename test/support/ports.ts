// Free loopback ports for the processes a test starts (TCP and UDP). Ports come from below the kernel's ephemeral
// range (32768–60999 here): a port the kernel hands out for `listen(0)` is also what it hands out as the source port
// of outgoing connections, so between our check and the child's bind, one of the thousands of fetches a test makes
// could take it (an HAProxy once failed to bind that way). Each process walks its own band of that lower range
// (chosen by pid), so two test files running at once rarely try the same ports; every port is checked free anyway.
import net from 'node:net';
import dgram from 'node:dgram';

const LOWEST = 15_000;
const HIGHEST = 32_700;
const BANDS = 64;
const BAND_SIZE = Math.floor((HIGHEST - LOWEST) / BANDS);
const bandStart = LOWEST + (process.pid % BANDS) * BAND_SIZE;
let cursor = 0;

function nextCandidate(): number {
  const port = bandStart + (cursor % BAND_SIZE);
  cursor++;
  return port;
}

const tcpFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

const udpFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      try {
        socket.close();
      } catch {
        // never bound: nothing to close
      }
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });

async function freePort(isFree: (port: number) => Promise<boolean>, kind: string): Promise<number> {
  for (let tries = 0; tries < BAND_SIZE; tries++) {
    const port = nextCandidate();
    if (await isFree(port)) return port;
  }
  throw new Error(`no free ${kind} port in ${bandStart}–${bandStart + BAND_SIZE - 1}`);
}

export const freeTcpPort = (): Promise<number> => freePort(tcpFree, 'TCP');
export const freeUdpPort = (): Promise<number> => freePort(udpFree, 'UDP');
