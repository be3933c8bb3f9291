/**
 * Issue 8: server-side search over 1 000 000 messages in 1 000 rooms. Target: p50 under 50 ms.
 *
 * The users and rooms are made through the Client-Server API (so their state, state groups and
 * memberships are the server's own); the messages are then written straight into PostgreSQL in
 * bulk, built exactly as the server builds them (canonical JSON of the hashed and signed event,
 * event IDs from the reference hash, the room's state group, a prev_events chain) and indexed by
 * the same trigger that indexes a sent message. The server is restarted on the loaded database and
 * every search is measured through POST /_matrix/client/v3/search.
 */
import { createHash, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { MatrixClient, MatrixRequestError } from './lib/client.js';
import { BenchError, type Benchmark, type Figure } from './lib/report.js';
import { NO_RATE_LIMITS, pool, step } from './lib/harness.js';
import { Installation, databaseSectionFromUrl, dropExternalDatabase, type RunningServer } from './lib/server.js';
import { median, percentile } from './lib/stats.js';
import { parseSigningKeyFile, type SigningKey } from '../src/matrix/signing.js';
import { buildEvent, toFederationFormat } from '../src/matrix/pdu.js';
import { canonicalJson } from '../src/matrix/canonical-json.js';
import { getRoomVersion } from '../src/matrix/room-versions.js';
import { authEventsSelection } from '../src/matrix/auth-rules.js';
import { stateKeyOf, type RoomEvent } from '../src/matrix/types.js';

const TARGET_P50_MS = 50;
const MESSAGES = Number(process.env.VECHE_BENCH_SEARCH_MESSAGES ?? 1_000_000);
const ROOMS = Number(process.env.VECHE_BENCH_SEARCH_ROOMS ?? 1_000);
const COLLEAGUES = 20;
/** Searches timed per kind of request, after one untimed pass over the queries. */
const SEARCHES = Number(process.env.VECHE_BENCH_SEARCH_QUERIES ?? 200);
const BATCH = 5_000;
const API_CONCURRENCY = 6;

// --- the corpus: a work chat, mostly Russian, partly English, words in many forms ----------------

const RU_WORDS = (
  'отчёт отчёта отчёты отчётов встреча встречи встречу встречей совещание совещания совещании ' +
  'задача задачи задачу задач проект проекта проекты проектов сообщение сообщения сообщений ' +
  'документ документы документа документов договор договора договоры клиент клиента клиентов ' +
  'бюджет бюджета бюджеты квартал квартала квартальный релиз релиза релизы сервер сервера серверы ' +
  'ошибка ошибки ошибку ошибок исправление исправления тест тесты тестов тестирование сборка сборки ' +
  'дизайн макет макеты презентация презентацию презентации письмо письма писем звонок звонка звонки ' +
  'созвон созвона команда команды команде отдел отдела руководитель руководителя сотрудник сотрудники ' +
  'отпуск отпуска график графика срок сроки сроков дедлайн план плана планы планирование неделя недели ' +
  'понедельник вторник среда среду четверг пятница пятницу утром вечером завтра сегодня вчера ' +
  'согласовать согласовали согласование подготовить подготовил подготовила отправить отправил ' +
  'отправила посмотреть посмотрел проверить проверил проверила обсудить обсудили обсуждение ' +
  'перенести перенесли запустить запустили исправить исправил обновить обновили обновление ' +
  'поиск поиска поиски найти нашёл нашла база базы данных данные таблица таблицы выгрузка выгрузку ' +
  'счёт счета оплата оплату оплаты закупка закупки поставщик поставщика склад склада доставка доставки ' +
  'важно срочно пожалуйста спасибо коллеги привет добрый день готово сделано ' +
  'мобильное приложение приложения интерфейс интерфейса пользователь пользователи пользователей ' +
  'доступ доступа пароль пароля настройка настройки инструкция инструкцию регламент регламента'
).split(/\s+/);
const EN_WORDS = (
  'meeting meetings report reports release releases deploy deployment server servers bug bugs fix ' +
  'fixed issue issues ticket tickets review reviews reviewed merge merged branch build builds test ' +
  'tests testing design mockup mockups slides deck call calls sync standup sprint sprints backlog ' +
  'roadmap deadline deadlines budget budgets invoice invoices contract contracts client clients ' +
  'customer customers support feedback launch launched plan plans planning schedule scheduled ' +
  'quarter quarterly team teams manager update updates updated database migration migrations ' +
  'search searching performance latency dashboard metrics alert alerts incident incidents outage ' +
  'please thanks today tomorrow yesterday monday tuesday friday morning afternoon asap done'
).split(/\s+/);
/** The long tail real chats have: names, clients, cities, ticket and document numbers. */
const NAMES = 'Иванов Петрова Смирнов Кузнецова Попов Соколова Лебедев Козлова Новиков Морозова Волков Алексеева Семёнов Егорова Павлов Голубева Виноградов Богданова Воробьёв Фёдорова'.split(' ');
const CLIENTS = 'Ростелеком Сбер Аэрофлот Магнит Северсталь Газпромнефть Яндекс Касперский Лукойл Мегафон Acme Globex Initech Umbrella Hooli Wayne Stark Cyberdyne Tyrell Wonka'.split(' ');
const CITIES = 'Москва Казань Новосибирск Екатеринбург Самара Пермь Воронеж Тюмень Иркутск Мурманск'.split(' ');
function tailToken(r: () => number): string {
  const x = r();
  if (x < 0.25) return NAMES[Math.floor(r() * NAMES.length)]!;
  if (x < 0.45) return CLIENTS[Math.floor(r() * CLIENTS.length)]!;
  if (x < 0.55) return CITIES[Math.floor(r() * CITIES.length)]!;
  if (x < 0.8) return `${['TASK', 'BUG', 'OPS', 'FIN', 'HR'][Math.floor(r() * 5)]}-${1 + Math.floor(r() * 20000)}`;
  return `№${1 + Math.floor(r() * 100000)}`;
}
const RU_GLUE = 'и в на по с к для не что это как уже ещё только также или но а у от до после'.split(' ');
const EN_GLUE = 'the a to for on in with and of is are we it this that be at by from'.split(' ');

/** A small deterministic generator, so every run loads the same corpus. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The lists hold the forms of one word side by side; shuffled (deterministically), the frequent
 * places go to forms of different words, not to every form of the first one.
 */
function shuffled(list: string[], seed: number): string[] {
  const r = rng(seed);
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
const RU_ORDER = shuffled(RU_WORDS, 1);
const EN_ORDER = shuffled(EN_WORDS, 2);

/** Zipf-like choice: the first words of a list are much more frequent than the last. */
function skewed<T>(list: readonly T[], r: () => number): T {
  return list[Math.floor(list.length * Math.pow(r(), 1.4))]!;
}

function messageBody(r: () => number): string {
  const english = r() < 0.3;
  const words = english ? EN_ORDER : RU_ORDER;
  const glue = english ? EN_GLUE : RU_GLUE;
  const n = 3 + Math.floor(r() * 14);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    // Some English terms in Russian messages, as people write them.
    out.push(x < 0.3 ? glue[Math.floor(r() * glue.length)]! : x > 0.9 ? tailToken(r) : !english && x > 0.85 ? skewed(EN_ORDER, r) : skewed(words, r));
  }
  out[0] = out[0]!.charAt(0).toUpperCase() + out[0]!.slice(1);
  return out.join(' ') + (r() < 0.2 ? '?' : r() < 0.5 ? '.' : '');
}

/** What people type into the search box: words of every frequency, other word forms, two words. */
const QUERIES = [
  'отчёт', 'отчеты за квартал', 'встреча', 'совещание в пятницу', 'поиск сообщений', 'договор с клиентом',
  'ошибка в сборке', 'релиз', 'презентацию', 'бюджет', 'созвон завтра', 'регламент', 'инструкции',
  'поставщики', 'доставку склада', 'пароль', 'обновление приложения', 'выгрузка данных', 'дедлайн',
  'отпуск', 'meeting', 'release notes', 'deploy', 'invoice', 'incident', 'roadmap', 'migration',
  'dashboard metrics', 'customer feedback', 'outage', 'sprint planning', 'quarterly budget',
  'Кузнецова', 'Северсталь договор', 'Казань', 'TASK-1234', 'Acme invoice', 'Иванов отчёт',
];

// --- building events the way the server does -------------------------------------------------------

interface RoomInfo {
  roomId: string;
  version: string;
  stateGroup: number;
  depth: number;
  prev: string[];
  members: string[];
  /** sender → auth_events of a message by that sender */
  authEvents: Map<string, string[]>;
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

/**
 * The stored JSON and event ID of an m.room.message: canonical JSON (keys sorted, no spaces) put
 * together directly, since the shape is fixed; checked against the server's own code at the start.
 */
function messageEvent(
  key: SigningKey, serverName: string, room: RoomInfo, sender: string, body: string, ts: number,
): { eventId: string; json: string; depth: number } {
  const depth = room.depth + 1;
  const head = `{"auth_events":${JSON.stringify(room.authEvents.get(sender))},"content":`;
  const tail = `,"depth":${depth},"origin_server_ts":${ts},"prev_events":${JSON.stringify(room.prev)},"room_id":${JSON.stringify(room.roomId)},"sender":${JSON.stringify(sender)}`;
  const content = `{"body":${JSON.stringify(body)},"msgtype":"m.text"}`;
  const contentHash = b64(createHash('sha256').update(`${head}${content}${tail},"type":"m.room.message"}`).digest());
  const hashes = `,"hashes":{"sha256":"${contentHash}"}`;
  // The redacted form (content emptied) is what the reference hash and the signature cover.
  const signedBytes = Buffer.from(`${head}{}${tail.replace(',"origin_server_ts"', `${hashes},"origin_server_ts"`)},"type":"m.room.message"}`);
  const eventId = '$' + createHash('sha256').update(signedBytes).digest('base64url');
  const signature = b64(sign(null, signedBytes, key.privateKey));
  const json =
    `{"auth_events":${JSON.stringify(room.authEvents.get(sender))},"content":${content},"depth":${depth}${hashes}` +
    `,"origin_server_ts":${ts},"prev_events":${JSON.stringify(room.prev)},"room_id":${JSON.stringify(room.roomId)},"sender":${JSON.stringify(sender)}` +
    `,"signatures":{${JSON.stringify(serverName)}:{${JSON.stringify(key.keyId)}:"${signature}"}},"type":"m.room.message"}`;
  return { eventId, json, depth };
}

/** The fast builder must give what the server's own event code gives, byte for byte. */
function checkBuilder(key: SigningKey, serverName: string, room: RoomInfo): void {
  const sender = room.members[0]!;
  const body = 'Проверка: "кавычки", \\ и emoji 🎉';
  const ts = 1_700_000_000_000;
  const mine = messageEvent(key, serverName, room, sender, body, ts);
  const version = getRoomVersion(room.version)!;
  const ev = buildEvent(
    { type: 'm.room.message', sender, room_id: room.roomId, content: { body, msgtype: 'm.text' }, prev_events: room.prev, auth_events: room.authEvents.get(sender)!, depth: room.depth + 1, origin_server_ts: ts },
    version, serverName, key,
  );
  const { unsigned: _u, ...signed } = ev;
  const theirs = canonicalJson(toFederationFormat(signed as RoomEvent, version));
  if (mine.json !== theirs || mine.eventId !== ev.event_id) {
    throw new BenchError(`the bulk event builder disagrees with src/matrix/pdu.ts (room version ${room.version}): ${mine.json.slice(0, 200)} vs ${theirs.slice(0, 200)}`);
  }
}

// --- the steps ---------------------------------------------------------------------------------------

/** Reads back what the API made: each room's head, state group, members and their auth events. */
async function roomInfos(db: pg.Client, roomIds: string[]): Promise<RoomInfo[]> {
  const { rows } = await db.query<{ room_id: string; room_version: string; current_state_group: string; max_depth: string; prev: string[] }>(
    `SELECT r.room_id, r.room_version, r.current_state_group, r.max_depth,
            (SELECT array_agg(event_id) FROM forward_extremities f WHERE f.room_id = r.room_id) AS prev
     FROM rooms r WHERE r.room_id = ANY($1)`,
    [roomIds],
  );
  const state = await db.query<{ room_id: string; type: string; state_key: string; event_id: string; membership: string | null }>(
    'SELECT room_id, type, state_key, event_id, membership FROM current_state WHERE room_id = ANY($1)',
    [roomIds],
  );
  const byRoom = new Map<string, Map<string, string>>();
  const members = new Map<string, string[]>();
  for (const s of state.rows) {
    (byRoom.get(s.room_id) ?? byRoom.set(s.room_id, new Map()).get(s.room_id)!).set(stateKeyOf(s.type, s.state_key), s.event_id);
    if (s.type === 'm.room.member' && s.membership === 'join') (members.get(s.room_id) ?? members.set(s.room_id, []).get(s.room_id)!).push(s.state_key);
  }
  return rows.map((r) => {
    const version = getRoomVersion(r.room_version)!;
    const ids = byRoom.get(r.room_id)!;
    const authEvents = new Map<string, string[]>();
    for (const m of members.get(r.room_id) ?? []) {
      const selection = authEventsSelection({ type: 'm.room.message', sender: m, content: {} } as RoomEvent, version);
      authEvents.set(m, selection.map((k) => ids.get(k)).filter((id): id is string => !!id));
    }
    return {
      roomId: r.room_id,
      version: r.room_version,
      stateGroup: Number(r.current_state_group),
      depth: Number(r.max_depth),
      prev: r.prev,
      members: (members.get(r.room_id) ?? []).sort(),
      authEvents,
    };
  });
}

async function bulkLoad(db: pg.Client, key: SigningKey, serverName: string, rooms: RoomInfo[], log: (m: string) => void): Promise<void> {
  checkBuilder(key, serverName, rooms[0]!);
  // Secondary indexes are built once after the load instead of row by row (the trigger still
  // indexes every message for search, as it does for a sent one).
  const { rows: indexes } = await db.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
     WHERE i.indrelid IN ('events'::regclass, 'event_search'::regclass)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
  );
  for (const ix of indexes) await db.query(`DROP INDEX ${ix.name}`);
  await db.query(`SET maintenance_work_mem = '512MB'`);
  await db.query('SET synchronous_commit = off');
  const { rows: seq } = await db.query<{ first: string }>(`SELECT nextval('events_stream_seq') AS first`);
  let stream = Number(seq[0]!.first);
  await db.query(`SELECT setval('events_stream_seq', $1)`, [stream + MESSAGES]);

  const r = rng(8);
  const t0 = Date.now() - 180 * 24 * 3600_000;
  const step = (180 * 24 * 3600_000 - 3600_000) / MESSAGES;
  // Busy rooms and quiet ones: the room of each message is skewed too.
  let pending: Promise<unknown> = Promise.resolve();
  const started = performance.now();
  for (let done = 0; done < MESSAGES; ) {
    const n = Math.min(BATCH, MESSAGES - done);
    const cols = { stream: [] as number[], id: [] as string[], room: [] as string[], sender: [] as string[], ts: [] as number[], depth: [] as number[], json: [] as string[], group: [] as number[] };
    for (let i = 0; i < n; i++) {
      const room = rooms[Math.floor(rooms.length * Math.pow(r(), 1.5))]!;
      const sender = room.members[Math.floor(r() * room.members.length)]!;
      const ts = Math.floor(t0 + (done + i) * step);
      const ev = messageEvent(key, serverName, room, sender, messageBody(r), ts);
      room.depth = ev.depth;
      room.prev = [ev.eventId];
      cols.stream.push(stream++);
      cols.id.push(ev.eventId);
      cols.room.push(room.roomId);
      cols.sender.push(sender);
      cols.ts.push(ts);
      cols.depth.push(ev.depth);
      cols.json.push(ev.json);
      cols.group.push(room.stateGroup);
    }
    await pending;
    pending = db.query(
      `INSERT INTO events (stream_ordering, event_id, room_id, type, sender, origin_server_ts, depth, topological_ordering,
                           contains_url, json, state_group_before, state_group_after)
       SELECT s, id, room, 'm.room.message', sender, ts, depth, depth, false, json, g, g
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[])
         AS t(s, id, room, sender, ts, depth, json, g)`,
      [cols.stream, cols.id, cols.room, cols.sender, cols.ts, cols.depth, cols.json, cols.group],
    );
    done += n;
    if (done % 100_000 === 0) log(`${done} messages, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  await pending;
  // Each room's head moves to its last message.
  for (const room of rooms) {
    await db.query('UPDATE rooms SET max_depth = $2 WHERE room_id = $1', [room.roomId, room.depth]);
    await db.query('DELETE FROM forward_extremities WHERE room_id = $1', [room.roomId]);
    await db.query('INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2)', [room.roomId, room.prev[0]]);
  }
  log(`messages written in ${((performance.now() - started) / 1000).toFixed(0)} s; building ${indexes.length} indexes`);
  for (const ix of indexes) await db.query(ix.def);
  log('vacuum and analyze');
  await db.query('VACUUM ANALYZE event_search');
  await db.query('ANALYZE');
}

interface Timed {
  ms: number[];
  results: number[];
}

async function timeSearches(client: MatrixClient, criteria: (term: string) => Record<string, unknown>, count: number, server: RunningServer): Promise<Timed> {
  const out: Timed = { ms: [], results: [] };
  for (let i = 0; i < count; i++) {
    const term = QUERIES[i % QUERIES.length]!;
    const t0 = performance.now();
    const res = await step(
      `searching for "${term}"`,
      () =>
        client.request<{ search_categories: { room_events: { count: number; results: unknown[] } } }>('POST', '/_matrix/client/v3/search', {
          search_categories: { room_events: criteria(term) },
        }),
      server,
    );
    out.ms.push(performance.now() - t0);
    out.results.push(res.search_categories.room_events.count);
  }
  return out;
}

/** The timed part: Element's request, then rank order, each SEARCHES times after a warm-up. */
async function timeSearchKinds(ctx: { log: (s: string) => void }, client: MatrixClient, server: RunningServer): Promise<Figure[]> {
  // Element Web's request: newest first, one event of context each side, with profiles.
  const element = (term: string) => ({ search_term: term, order_by: 'recent', filter: { limit: 10 }, event_context: { before_limit: 1, after_limit: 1, include_profile: true } });
  const rank = (term: string) => ({ search_term: term, order_by: 'rank', filter: { limit: 10 } });
  ctx.log(`warming up: each of ${QUERIES.length} queries once`);
  await timeSearches(client, element, QUERIES.length, server);
  ctx.log(`timing ${SEARCHES} searches as Element sends them (recent, context, profiles)`);
  const recent = await timeSearches(client, element, SEARCHES, server);
  ctx.log(`timing ${SEARCHES} searches by rank`);
  const ranked = await timeSearches(client, rank, SEARCHES, server);
  const zero = recent.results.filter((n) => n === 0).length;
  if (zero === recent.results.length) throw new BenchError('no search found anything');
  return [
    { metric: 'search p50, recent + context + profiles (Element)', value: percentile(recent.ms, 50), unit: 'ms', target: TARGET_P50_MS },
    { metric: 'search p99, recent + context + profiles (Element)', value: percentile(recent.ms, 99), unit: 'ms' },
    { metric: 'search p50, by rank', value: percentile(ranked.ms, 50), unit: 'ms', target: TARGET_P50_MS },
    { metric: 'search p99, by rank', value: percentile(ranked.ms, 99), unit: 'ms' },
    { metric: 'searches timed per kind', value: SEARCHES, unit: 'count', note: `${QUERIES.length} distinct queries, Russian and English` },
    { metric: 'matches per query, median', value: median(recent.results), unit: 'count', note: `max ${Math.max(...recent.results)}; ${zero} searches found nothing` },
  ];
}

/**
 * Times the searches on a database kept by an earlier run (VECHE_BENCH_SEARCH_KEEP=1): a new
 * searcher joins every room there (shared history visibility: it sees all of it).
 */
async function timeOnKeptDatabase(ctx: { log: (s: string) => void }, install: Installation, server: RunningServer, databaseUrl: string, name: string): Promise<Figure[]> {
  const u = new URL(databaseUrl);
  const db = new pg.Client({ host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username || 'postgres'), password: u.password ? decodeURIComponent(u.password) : undefined, database: name });
  await db.connect();
  let roomIds: string[];
  try {
    roomIds = (await db.query<{ room_id: string }>('SELECT room_id FROM rooms')).rows.map((r) => r.room_id);
  } finally {
    await db.end();
  }
  const client = new MatrixClient(server.baseUrl);
  await step('registering a searcher', () => client.registerWithSharedSecret(install.sharedSecret, `searcher_${randomBytes(3).toString('hex')}`, `pw-${randomBytes(8).toString('hex')}`), server);
  ctx.log(`joining the ${roomIds.length} rooms of ${name}`);
  await pool(roomIds, API_CONCURRENCY, async (roomId) => void (await step('joining', () => client.join(roomId), server)));
  return timeSearchKinds(ctx, client, server);
}

export const search: Benchmark = {
  name: 'search',
  description: `POST /search over ${MESSAGES.toLocaleString('en')} messages in ${ROOMS} rooms, p50 and p99 (issue 8)`,
  async run(ctx) {
    const databaseUrl = process.env.VECHE_BENCH_DATABASE_URL;
    // VECHE_BENCH_SEARCH_DATABASE: time the searches on a database an earlier run kept.
    const reuse = databaseUrl ? process.env.VECHE_BENCH_SEARCH_DATABASE : undefined;
    const databaseName = reuse ?? `veche_bench_${randomBytes(4).toString('hex')}`;
    const install = new Installation('search', {
      extra: {
        ...NO_RATE_LIMITS,
        ...(databaseUrl ? { database: databaseSectionFromUrl(databaseUrl, databaseName) } : {}),
      },
    });
    let server: RunningServer | undefined;
    try {
      ctx.log(`starting Veche (${databaseUrl ? `PostgreSQL at ${new URL(databaseUrl).host}` : 'embedded PostgreSQL'})`);
      server = await install.start();
      if (reuse) return await timeOnKeptDatabase(ctx, install, server, databaseUrl!, reuse);
      const base = server.baseUrl;
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const searcher = new MatrixClient(base);
      await step('registering the searching user', () => searcher.registerWithSharedSecret(install.sharedSecret, 'searcher', password), server);
      await step('setting a display name', () => searcher.setDisplayName('Ирина Поисковая'), server);
      const colleagues: MatrixClient[] = [];
      for (let i = 0; i < COLLEAGUES; i++) {
        const c = new MatrixClient(base);
        await step('registering colleagues', () => c.registerWithSharedSecret(install.sharedSecret, `colleague${i}`, password), server);
        await step('setting a display name', () => c.setDisplayName(i % 2 ? `Colleague ${i}` : `Коллега ${i}`), server);
        colleagues.push(c);
      }
      // Each room: the searcher and two colleagues.
      ctx.log(`creating ${ROOMS} rooms through the API`);
      const t0 = performance.now();
      const roomIds: string[] = new Array(ROOMS);
      await pool([...Array(ROOMS).keys()], API_CONCURRENCY, async (i) => {
        const roomId = await step(`creating room ${i + 1}`, () => searcher.createRoom({ preset: 'public_chat', name: `Комната ${i + 1}` }), server);
        for (const c of [colleagues[i % COLLEAGUES]!, colleagues[(i + 7) % COLLEAGUES]!]) await step(`joining room ${i + 1}`, () => c.join(roomId), server);
        roomIds[i] = roomId;
        if ((i + 1) % 200 === 0) ctx.log(`${i + 1} rooms, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      });
      const roomsSeconds = (performance.now() - t0) / 1000;

      // Bulk load through the server's own database (the embedded one lives in the data folder).
      const connection = databaseUrl
        ? { ...(() => { const u = new URL(databaseUrl); return { host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username || 'postgres'), password: u.password ? decodeURIComponent(u.password) : undefined }; })(), database: databaseName }
        : { host: join(install.dataDir, 'postgres'), port: 5432, user: 'postgres', database: 'veche' };
      const db = new pg.Client(connection);
      await db.connect();
      const l0 = performance.now();
      try {
        const key = parseSigningKeyFile(readFileSync(join(install.dataDir, `${install.serverName}.signing.key`), 'utf8'))[0]!;
        const rooms = await roomInfos(db, roomIds);
        ctx.log(`writing ${MESSAGES} messages into PostgreSQL`);
        await bulkLoad(db, key, install.serverName, rooms, ctx.log);
      } finally {
        await db.end();
      }
      const loadSeconds = (performance.now() - l0) / 1000;
      const indexed = await (async () => {
        const c = new pg.Client(connection);
        await c.connect();
        try {
          return Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM event_search')).rows[0]!.n);
        } finally {
          await c.end();
        }
      })();
      if (indexed < MESSAGES) throw new BenchError(`only ${indexed} of ${MESSAGES} messages are in the search index`);

      // A fresh process on the loaded database: its stream positions and caches start from it.
      ctx.log('restarting Veche on the loaded database');
      await server.stop();
      server = await install.start();
      const client = new MatrixClient(server.baseUrl);
      client.accessToken = searcher.accessToken;
      client.userId = searcher.userId;

      return [
        ...(await timeSearchKinds(ctx, client, server)),
        { metric: 'messages indexed', value: indexed, unit: 'count', note: `in ${ROOMS} rooms, all joined by the searcher` },
        { metric: 'rooms and memberships through the API', value: roomsSeconds, unit: 's', note: `${ROOMS} createRoom + ${2 * ROOMS} joins` },
        { metric: 'bulk load, indexes and vacuum', value: loadSeconds, unit: 's' },
      ] satisfies Figure[];
    } finally {
      await server?.stop();
      // VECHE_BENCH_SEARCH_KEEP=1 keeps the loaded external database for looking at query plans.
      if (reuse) ctx.log(`the database ${databaseName} is kept`);
      else if (databaseUrl && process.env.VECHE_BENCH_SEARCH_KEEP === '1') ctx.log(`kept the database ${databaseName}`);
      else if (databaseUrl) await dropExternalDatabase(databaseUrl, databaseName).catch((err: Error) => ctx.log(`could not drop ${databaseName}: ${err.message}`));
      install.remove();
    }
  },
};
