/**
 * User-Interactive Authentication (spec: Client-Server API §4.5). A route says which flows may
 * authorise it; this runs the stages, keeps the session in the database, and answers 401 with
 * flows/params/session/completed until one flow is complete.
 */
import type { Storage } from '../storage/index.js';
import type { JsonObject } from '../matrix/types.js';
import { MatrixError } from '../errors.js';
import { verifyPassword } from './passwords.js';
import { randomString } from './tokens.js';

export type Stage = 'm.login.dummy' | 'm.login.password' | 'm.login.registration_token';

export interface UiaRequest {
  uri: string;
  method: string;
  body: JsonObject;
  /** The user the operation acts for; password stages must prove this user's password. */
  userId?: string;
}

export interface UiaResult {
  /** The client's parameters from the session's first request, overlaid by this one's. */
  clientdict: JsonObject;
  /** Data stages recorded, e.g. the registration token used. */
  data: JsonObject;
  sessionId: string;
}

const SESSION_LIFETIME_MS = 24 * 3600 * 1000;

export class UiaService {
  constructor(
    private readonly storage: Storage,
    private readonly serverName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns once a flow is complete; throws the 401 UIA response otherwise. */
  async authenticate(req: UiaRequest, flows: Stage[][]): Promise<UiaResult> {
    const auth = req.body.auth as JsonObject | undefined;
    const { auth: _, ...clientdict } = req.body;
    const sessionId = typeof auth?.session === 'string' ? auth.session : undefined;
    let session = sessionId ? await this.storage.registration.getSession(sessionId) : undefined;
    if (sessionId && !session) throw new MatrixError(400, 'M_UNKNOWN', 'Unknown user-interactive auth session');
    if (session && this.now() - session.creationTs > SESSION_LIFETIME_MS) {
      throw new MatrixError(400, 'M_UNKNOWN', 'User-interactive auth session has expired');
    }
    if (session && session.userId !== (req.userId ?? null)) {
      // A session belongs to the user who started it; another user cannot continue it.
      throw new MatrixError(403, 'M_FORBIDDEN', 'This user-interactive auth session belongs to another user.');
    }
    if (session && (session.uri !== req.uri || session.method !== req.method)) {
      // spec: a session is bound to the operation it was started for.
      throw new MatrixError(403, 'M_FORBIDDEN', 'Requested operation has changed during the UI authentication session.');
    }
    if (!session) {
      const id = randomString(24);
      await this.storage.registration.createSession({
        sessionId: id,
        creationTs: this.now(),
        uri: req.uri,
        method: req.method,
        userId: req.userId ?? null,
        clientdict,
      });
      session = (await this.storage.registration.getSession(id))!;
    }
    const mergedClientdict = Object.keys(clientdict).length ? clientdict : session.clientdict;

    let stageError: MatrixError | undefined;
    const type = typeof auth?.type === 'string' ? auth.type : undefined;
    if (type) {
      const allowed = new Set(flows.flat());
      if (session.completed[type] !== undefined) {
        // Already done in this session (a client retrying): running it again would, for a
        // registration token, reserve a second use.
      } else if (!allowed.has(type as Stage)) {
        stageError = new MatrixError(400, 'M_UNRECOGNIZED', `Unrecognised login type ${type}`);
      } else {
        try {
          const { result, data } = await this.runStage(type as Stage, auth!, req);
          await this.storage.registration.markStageCompleted(session.sessionId, type, result, data);
          session.completed[type] = result;
          Object.assign(session.data, data ?? {});
        } catch (err) {
          if (!(err instanceof MatrixError)) throw err;
          stageError = err;
        }
      }
    }
    const completed = Object.keys(session.completed);
    if (flows.some((flow) => flow.every((stage) => completed.includes(stage)))) {
      await this.storage.registration.deleteSession(session.sessionId);
      return { clientdict: mergedClientdict, data: session.data, sessionId: session.sessionId };
    }
    const body: Record<string, unknown> = {
      flows: flows.map((stages) => ({ stages })),
      params: {},
      session: session.sessionId,
    };
    if (completed.length) body.completed = completed;
    if (stageError) {
      if (stageError.status === 429) throw stageError;
      body.errcode = stageError.errcode;
      body.error = stageError.message;
    }
    throw new MatrixError(401, stageError?.errcode ?? 'M_FORBIDDEN', stageError?.message ?? 'Additional authentication required', body);
  }

  private async runStage(type: Stage, auth: JsonObject, req: UiaRequest): Promise<{ result: unknown; data?: JsonObject }> {
    switch (type) {
      case 'm.login.dummy':
        return { result: true };
      case 'm.login.password': {
        const userId = this.identifierToUserId(auth);
        if (!req.userId || !userId || userId.toLowerCase() !== req.userId.toLowerCase()) {
          throw new MatrixError(403, 'M_FORBIDDEN', 'Invalid username or password');
        }
        const user = await this.storage.users.get(req.userId);
        if (!user || typeof auth.password !== 'string' || !(await verifyPassword(auth.password, user.passwordHash))) {
          throw new MatrixError(403, 'M_FORBIDDEN', 'Invalid username or password');
        }
        return { result: req.userId };
      }
      case 'm.login.registration_token': {
        const token = auth.token;
        if (typeof token !== 'string') throw new MatrixError(400, 'M_MISSING_PARAM', 'Missing registration token');
        const ok = await this.storage.db.transaction((tx) => this.storage.registration.reserveToken(tx, token, this.now()));
        if (!ok) throw new MatrixError(401, 'M_UNAUTHORIZED', 'Invalid registration token');
        return { result: true, data: { registration_token: token } };
      }
    }
  }

  /** The user named by an m.id.user identifier or the legacy `user` field, as a full user ID. */
  identifierToUserId(auth: JsonObject): string | undefined {
    const identifier = auth.identifier as JsonObject | undefined;
    let user: unknown = identifier?.type === 'm.id.user' ? identifier.user : auth.user;
    if (typeof user !== 'string' || !user) return undefined;
    if (!user.startsWith('@')) user = `@${user}:${this.serverName}`;
    return user as string;
  }
}
