/**
 * A tiny Matrix client for benchmarks: plain Client-Server API calls over node:http with
 * keep-alive, so what is timed is the server, not an SDK. (Global fetch, i.e. undici with web
 * streams, cost this client about 2 ms of CPU per request on the 2-core machine — time a
 * sequential benchmark adds to every request and takes from the server's cores.)
 * A non-2xx answer throws a MatrixRequestError whose message is one line.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/** One HTTP exchange; resolves with the status and the body as text. */
function exchange(method: string, url: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      { method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers, agent: secure ? agents.https : agents.http },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export class MatrixRequestError extends Error {
  override name = 'MatrixRequestError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly errcode: string | undefined,
    readonly error: string | undefined,
    readonly body: unknown,
  ) {
    super(`${method} ${path} answered ${status}${errcode ? ` ${errcode}` : ''}${error ? `: ${error}` : ''}`);
  }
}

export interface Session {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export class MatrixClient {
  accessToken: string | undefined;
  userId: string | undefined;

  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, body?: unknown, options: { allow?: number[] } = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    let res: { status: number; text: string };
    try {
      res = await exchange(method, this.baseUrl + path, headers, payload);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new Error(`${method} ${path}: ${e.code ?? e.message}`);
    }
    const text = res.text;
    let parsed: any = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if ((res.status >= 200 && res.status < 300) || options.allow?.includes(res.status)) return parsed as T;
    const matrix = parsed && typeof parsed === 'object' ? (parsed as { errcode?: string; error?: string }) : {};
    throw new MatrixRequestError(method, path, res.status, matrix.errcode, matrix.error ?? (typeof parsed === 'string' ? parsed.slice(0, 120) : undefined), parsed);
  }

  private use(session: Session): Session {
    this.accessToken = session.accessToken;
    this.userId = session.userId;
    return session;
  }

  /** POST /register through the m.login.dummy user-interactive flow (needs open registration). */
  async register(username: string, password: string): Promise<Session> {
    const path = '/_matrix/client/v3/register';
    type Done = { user_id: string; access_token: string; device_id: string };
    // The first round, without auth, answers 401 with the flows and a session id (spec: Client-Server API, "User-Interactive Authentication API").
    const first = await this.request<Partial<Done> & { session?: string }>('POST', path, { username, password }, { allow: [401] });
    const r: Done = first.user_id
      ? (first as Done)
      : await this.request<Done>('POST', path, { username, password, auth: { type: 'm.login.dummy', session: first.session } });
    return this.use({ userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id });
  }

  /** POST /login with a password. */
  async login(user: string, password: string): Promise<Session> {
    const r = await this.request<{ user_id: string; access_token: string; device_id: string }>('POST', '/_matrix/client/v3/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password,
    });
    return this.use({ userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id });
  }

  /**
   * Synapse's shared-secret registration (/_synapse/admin/v1/register):
   * mac = hex HMAC-SHA1(secret, nonce NUL username NUL password NUL "admin"|"notadmin").
   */
  async registerWithSharedSecret(secret: string, username: string, password: string, admin = false): Promise<Session> {
    const path = '/_synapse/admin/v1/register';
    const { nonce } = await this.request<{ nonce: string }>('GET', path);
    const mac = createHmac('sha1', secret)
      .update(nonce).update('\x00').update(username).update('\x00').update(password).update('\x00').update(admin ? 'admin' : 'notadmin')
      .digest('hex');
    const r = await this.request<{ user_id: string; access_token: string; device_id: string }>('POST', path, { nonce, username, password, admin, mac });
    return this.use({ userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id });
  }

  async setDisplayName(displayname: string): Promise<void> {
    await this.request('PUT', `/_matrix/client/v3/profile/${encodeURIComponent(this.userId!)}/displayname`, { displayname });
  }

  async createRoom(body: Record<string, unknown>): Promise<string> {
    const r = await this.request<{ room_id: string }>('POST', '/_matrix/client/v3/createRoom', body);
    return r.room_id;
  }

  async join(roomIdOrAlias: string): Promise<string> {
    const r = await this.request<{ room_id: string }>('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomIdOrAlias)}`, {});
    return r.room_id;
  }

  async sendMessage(roomId: string, txnId: string, content: Record<string, unknown>): Promise<string> {
    const r = await this.request<{ event_id: string }>(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txnId)}`,
      content,
    );
    return r.event_id;
  }
}
