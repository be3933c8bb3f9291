/**
 * A tiny Matrix client for benchmarks: plain Client-Server API calls over node's global fetch
 * (undici keeps connections alive by default), so what is timed is the server, not an SDK.
 * A non-2xx answer throws a MatrixRequestError whose message is one line.
 */
import { createHmac } from 'node:crypto';

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
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, { method, headers, body: payload });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`${method} ${path}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: any = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (res.ok || options.allow?.includes(res.status)) return parsed as T;
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
