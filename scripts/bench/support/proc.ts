// What the kernel says about a process, read from /proc: CPU time (own and reaped children), RSS, its children,
// and which loopback TCP ports are listening. Linux only, like the rest of the benchmarks.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux we know, asked once). */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  pgrp: number;
  /** seconds of CPU in user and kernel mode, this process's own threads */
  own: number;
  /** seconds of CPU of children this process has waited for (they are gone from /proc) */
  reaped: number;
}

export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const hz = clockTicks();
  return {
    pid,
    comm,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    own: (Number(f[11]) + Number(f[12])) / hz,
    reaped: (Number(f[13]) + Number(f[14])) / hz,
  };
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/**
 * CPU seconds of a whole process group: every live member's own time plus what each has reaped. A child that
 * exited and was waited for moves from its own line into its parent's `reaped`, so the sum never counts it twice.
 */
export function groupCpuSeconds(pgid: number): number {
  let sum = 0;
  for (const pid of allPids()) {
    const s = readStat(pid);
    if (s && s.pgrp === pgid) sum += s.own + s.reaped;
  }
  return sum;
}

/** Direct children of a process, with their command names. */
export function childrenOf(ppid: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of allPids()) {
    const s = readStat(pid);
    if (s && s.ppid === ppid) out.push(s);
  }
  return out;
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Resident set size in bytes (VmRSS: every thread of the process, no children). */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** True when something listens on this TCP port; read from /proc so no probe connection is spent on the server. */
export function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN.
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}

/** CPU seconds the whole machine spent busy (all cores, /proc/stat: everything but idle and iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  return (total - ticks[3]! - ticks[4]!) / clockTicks();
}

/**
 * CPU seconds of a process and everything under it: its own and reaped time, plus every live descendant's.
 * A descendant that exited was reaped by a member of the tree, so its time is already in that member's `reaped`.
 */
export function treeCpuSeconds(rootPid: number): number {
  const stats = allPids().map(readStat).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  let sum = 0;
  const root = stats.find((s) => s.pid === rootPid);
  const queue = root ? [root] : [];
  while (queue.length) {
    const s = queue.pop()!;
    sum += s.own + s.reaped;
    queue.push(...(children.get(s.pid) ?? []));
  }
  return sum;
}
