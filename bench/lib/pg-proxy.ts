/**
 * A counting PostgreSQL wire-protocol proxy on 127.0.0.1. The server under test runs as a child
 * process, so its own query counter is out of reach; pointing its `database` section at this proxy
 * lets a benchmark see every statement the server sends, with the command tag PostgreSQL answers
 * ("INSERT 0 3", "SELECT 12") and the time from Execute to CommandComplete. Bytes are forwarded
 * untouched; the proxy only reads the message frames as they pass.
 *
 * Frontend messages counted: Query ('Q', simple protocol) and Execute ('E', extended protocol; the
 * SQL comes from the Parse that named the statement and the Bind that made the portal). Backend
 * CommandComplete ('C'), ErrorResponse ('E') and EmptyQueryResponse ('I') close them in order.
 * Needs plain TCP without SSL (what the pg driver does on 127.0.0.1 by default).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface StatementRecord {
  sql: string;
  /** PostgreSQL's command tag, e.g. "INSERT 0 1"; "ERROR" for an error. */
  tag: string;
  ms: number;
  /** performance.now() when the answer came */
  end: number;
}

export interface StatementSummary {
  sql: string;
  count: number;
  totalMs: number;
  rows: number;
}

/** Normalises whitespace so one statement's executions group together. */
export function normaliseSql(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

/** The table an INSERT / UPDATE / DELETE writes, else undefined. */
export function writtenTable(sql: string): { verb: 'INSERT' | 'UPDATE' | 'DELETE'; table: string } | undefined {
  const s = normaliseSql(sql).replace(/^WITH .*?\)\s*(?=INSERT|UPDATE|DELETE)/i, '');
  const m = s.match(/^(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+("?[\w.]+"?)/i);
  if (!m) return undefined;
  const verb = m[1]!.toUpperCase().startsWith('INSERT') ? 'INSERT' : m[1]!.toUpperCase().startsWith('UPDATE') ? 'UPDATE' : 'DELETE';
  return { verb, table: m[2]!.replace(/"/g, '') };
}

/** Rows a command tag reports ("INSERT 0 5" → 5, "UPDATE 2" → 2, "SELECT 7" → 7). */
export function tagRows(tag: string): number {
  const m = tag.match(/(\d+)$/);
  return m ? Number(m[1]) : 0;
}

interface Pending {
  sql: string;
  t0: number;
}

class Framer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(
    private startup: boolean,
    private readonly onMessage: (type: string, body: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.startup) {
        // Untyped: int32 length, int32 code (startup, SSLRequest, …).
        if (this.buf.length < 8) return;
        const len = this.buf.readInt32BE(0);
        if (this.buf.length < len) return;
        const code = this.buf.readInt32BE(4);
        this.buf = this.buf.subarray(len);
        // SSLRequest / GSSENCRequest are followed by another untyped startup message.
        if (code !== 80877103 && code !== 80877104) this.startup = false;
        continue;
      }
      if (this.buf.length < 5) return;
      const len = this.buf.readInt32BE(1);
      if (this.buf.length < 1 + len) return;
      const type = String.fromCharCode(this.buf[0]!);
      const body = this.buf.subarray(5, 1 + len);
      this.buf = this.buf.subarray(1 + len);
      this.onMessage(type, body);
    }
  }
}

function cstring(body: Buffer, offset: number): [string, number] {
  const end = body.indexOf(0, offset);
  return [body.toString('utf8', offset, end), end + 1];
}

export class PgProxy {
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  records: StatementRecord[] = [];
  /** Statements since the last reset, including BEGIN/COMMIT. */
  get count(): number {
    return this.records.length;
  }
  /** Set to false to stop recording (forwarding goes on). */
  recording = true;
  port = 0;

  constructor(
    readonly upstreamHost: string,
    readonly upstreamPort: number,
  ) {}

  async start(): Promise<number> {
    this.server = net.createServer((client) => this.connection(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  reset(): void {
    this.records = [];
  }

  /** Statements other than transaction control. */
  statements(records = this.records): StatementRecord[] {
    return records.filter((r) => !/^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b/i.test(r.sql.trim()));
  }

  summary(records = this.records): StatementSummary[] {
    const by = new Map<string, StatementSummary>();
    for (const r of records) {
      const sql = normaliseSql(r.sql);
      const s = by.get(sql) ?? { sql, count: 0, totalMs: 0, rows: 0 };
      s.count++;
      s.totalMs += r.ms;
      s.rows += tagRows(r.tag);
      by.set(sql, s);
    }
    return [...by.values()].sort((a, b) => b.totalMs - a.totalMs);
  }

  /** Rows written per table ("INSERT x", "UPDATE x", "DELETE x") from the command tags. */
  rowsWritten(records = this.records): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of records) {
      const w = writtenTable(r.sql);
      if (!w || r.tag === 'ERROR') continue;
      const key = `${w.verb} ${w.table}`;
      out.set(key, (out.get(key) ?? 0) + tagRows(r.tag));
    }
    return out;
  }

  private connection(client: net.Socket): void {
    const upstream = net.connect(this.upstreamPort, this.upstreamHost);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const statements = new Map<string, string>();
    const portals = new Map<string, string>();
    const pending: Pending[] = [];
    const front = new Framer(true, (type, body) => {
      if (!this.recording) return;
      if (type === 'P') {
        const [name, o] = cstring(body, 0);
        const [sql] = cstring(body, o);
        statements.set(name, sql);
      } else if (type === 'B') {
        const [portal, o] = cstring(body, 0);
        const [stmt] = cstring(body, o);
        portals.set(portal, statements.get(stmt) ?? '?');
      } else if (type === 'E') {
        const [portal] = cstring(body, 0);
        pending.push({ sql: portals.get(portal) ?? '?', t0: performance.now() });
      } else if (type === 'Q') {
        const [sql] = cstring(body, 0);
        pending.push({ sql, t0: performance.now() });
      }
    });
    const back = new Framer(false, (type, body) => {
      if (type !== 'C' && type !== 'E' && type !== 'I') return;
      const p = pending.shift();
      if (!p || !this.recording) return;
      const tag = type === 'C' ? cstring(body, 0)[0] : type === 'E' ? 'ERROR' : 'EMPTY';
      const end = performance.now();
      this.records.push({ sql: p.sql, tag, ms: end - p.t0, end });
    });
    client.on('data', (chunk: Buffer) => {
      try {
        front.push(chunk);
      } catch {
        /* never let accounting break the connection */
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      try {
        back.push(chunk);
      } catch {
        /* as above */
      }
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
