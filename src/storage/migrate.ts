/**
 * Schema migrations: numbered .sql files in storage/migrations applied in order, each inside a
 * transaction, recorded in schema_version. An advisory lock keeps two processes starting at once
 * from applying the same migration twice.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { projectFile } from '../config/schema.js';
import type { Database } from './database.js';
import { getLogger } from '../logging.js';

const log = getLogger('migrate');
const MIGRATION_LOCK = 0x7665636865; // "veche"

export function migrationFiles(): { version: number; name: string; sql: string }[] {
  const dir = projectFile('src/storage/migrations');
  return readdirSync(dir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.split('_')[0]), name: f, sql: readFileSync(`${dir}/${f}`, 'utf8') }));
}

export async function migrate(db: Database): Promise<void> {
  const client = await db.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_version (version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version');
    const applied = new Set(rows.map((r) => r.version));
    for (const m of migrationFiles()) {
      if (applied.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_version (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
        log.info('applied migration', { migration: m.name });
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}
