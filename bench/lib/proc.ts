/**
 * What a process costs, read from Linux's /proc: resident memory (VmRSS), proportional set size
 * (Pss, which shares PostgreSQL's shared memory out fairly among its processes instead of counting
 * it once per backend) and CPU time. Returns undefined for a process that has gone.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function kbField(text: string | undefined, field: string): number | undefined {
  const m = text?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number | undefined {
  return kbField(read(`/proc/${pid}/status`), 'VmRSS');
}

/** Proportional set size in bytes (Pss of /proc/<pid>/smaps_rollup); needs read access to the process. */
export function pssBytes(pid: number): number | undefined {
  return kbField(read(`/proc/${pid}/smaps_rollup`), 'Pss');
}

interface Stat {
  pid: number;
  comm: string;
  ppid: number;
  /** user + system CPU time, in clock ticks */
  cpuTicks: number;
}

function stat(pid: number): Stat | undefined {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return undefined;
  // comm is in parentheses and may hold spaces or ')': the fields after the last ')' are fixed.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
  return { pid, comm, ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU time (user + system) the process has used, in seconds. */
export function cpuSeconds(pid: number): number | undefined {
  const s = stat(pid);
  return s ? s.cpuTicks / clockTicks() : undefined;
}

/** Every process below `pid` (children, their children, …), found by ppid in /proc/<n>/stat. */
export function descendants(pid: number): { pid: number; comm: string }[] {
  const all: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s) all.push(s);
  }
  const byParent = new Map<number, Stat[]>();
  for (const s of all) {
    const list = byParent.get(s.ppid) ?? [];
    list.push(s);
    byParent.set(s.ppid, list);
  }
  const out: { pid: number; comm: string }[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      out.push({ pid: child.pid, comm: child.comm });
      queue.push(child.pid);
    }
  }
  return out;
}

export interface TreeMemory {
  /** the process itself */
  rss: number;
  /** its descendants (for Veche: the embedded PostgreSQL and its backends) */
  childCount: number;
  childRss: number;
  childPss: number;
  childCpuSeconds: number;
}

export function treeMemory(pid: number): TreeMemory {
  const children = descendants(pid);
  let childRss = 0;
  let childPss = 0;
  let childCpuSeconds = 0;
  for (const c of children) {
    childRss += rssBytes(c.pid) ?? 0;
    childPss += pssBytes(c.pid) ?? 0;
    childCpuSeconds += cpuSeconds(c.pid) ?? 0;
  }
  return { rss: rssBytes(pid) ?? 0, childCount: children.length, childRss, childPss, childCpuSeconds };
}
