/**
 * Push rule data shapes, and a user's customisations of them as plain data: the rules they
 * defined plus their changes to server-default rules. Pure: the storage layer persists
 * `UserPushRules` as it likes, the HTTP layer turns `PushRuleError` into a Matrix error.
 */
import { defaultRuleset, type DefaultRulesOptions } from './default-rules.js';
import { canonicalJson, CanonicalJsonError } from '../canonical-json.js';

/** One condition (spec: data/api/client-server/definitions/push_condition.yaml). Kept loose: clients send anything. */
export interface PushCondition {
  kind: string;
  key?: string;
  pattern?: string;
  is?: string;
  value?: string | number | boolean | null;
  [extra: string]: unknown;
}

/** `"notify"`, or `{ set_tweak, value? }`; historical `dont_notify` / `coalesce` are ignored. */
export type PushAction = string | { set_tweak: string; value?: unknown; [extra: string]: unknown };

/** A rule as GET /pushrules/ returns it (spec: definitions/push_rule.yaml). */
export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  /** override / underride only. */
  conditions?: PushCondition[];
  /** content only. */
  pattern?: string;
  actions: PushAction[];
}

export type PushRuleKind = 'override' | 'content' | 'room' | 'sender' | 'underride';

/** The kinds in the order they are checked (spec: Client-Server API "Push Rules"). */
export const PUSH_RULE_KINDS: readonly PushRuleKind[] = ['override', 'content', 'room', 'sender', 'underride'];

export function isPushRuleKind(kind: string): kind is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(kind);
}

/** The `global` ruleset (spec: definitions/push_ruleset.yaml). */
export interface Ruleset {
  override: PushRule[];
  content: PushRule[];
  room: PushRule[];
  sender: PushRule[];
  underride: PushRule[];
}

/** What the server stores per user. */
export interface UserPushRules {
  /** User-defined rules per kind, most important first. */
  rules: Record<PushRuleKind, PushRule[]>;
  /** Changes to server-default rules, keyed `kind:ruleId`. */
  overrides: Record<string, { enabled?: boolean; actions?: PushAction[] }>;
}

export class PushRuleError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
  ) {
    super(message);
    this.name = 'PushRuleError';
  }
}

const notFound = () => new PushRuleError(404, 'M_NOT_FOUND', 'The push rule was not found.');
const badJson = (msg: string) => new PushRuleError(400, 'M_BAD_JSON', msg);

export function emptyUserPushRules(): UserPushRules {
  return { rules: { override: [], content: [], room: [], sender: [], underride: [] }, overrides: {} };
}

const overrideKey = (kind: PushRuleKind, ruleId: string) => `${kind}:${ruleId}`;

function withOverride(rule: PushRule, kind: PushRuleKind, user: UserPushRules): PushRule {
  const o = user.overrides[overrideKey(kind, rule.rule_id)];
  if (!o) return rule;
  return {
    ...rule,
    enabled: o.enabled ?? rule.enabled,
    actions: o.actions ? o.actions.map(copyAction) : rule.actions,
  };
}

function copyAction(a: PushAction): PushAction {
  return typeof a === 'string' ? a : { ...a };
}

function copyRule(r: PushRule): PushRule {
  const out: PushRule = { rule_id: r.rule_id, default: r.default, enabled: r.enabled, actions: r.actions.map(copyAction) };
  if (r.conditions) out.conditions = r.conditions.map((c) => ({ ...c }));
  if (r.pattern !== undefined) out.pattern = r.pattern;
  return out;
}

/**
 * The user's effective ruleset, in evaluation order.
 * spec: Client-Server API §11.12.1.4 "Predefined Rules": server-default rules "operate at a lower
 * priority than user-defined rules, except for the .m.rule.master rule which has always a higher
 * priority than any other rule". So per kind: [.m.rule.master], user rules, other default rules.
 */
export function mergeRuleset(userId: string, user: UserPushRules, options?: DefaultRulesOptions): Ruleset {
  const defaults = defaultRuleset(userId, options);
  const out = { override: [], content: [], room: [], sender: [], underride: [] } as Ruleset;
  for (const kind of PUSH_RULE_KINDS) {
    const defs = defaults[kind].map((r) => withOverride(r, kind, user));
    const mine = (user.rules[kind] ?? []).map(copyRule);
    const masterIdx = kind === 'override' ? defs.findIndex((r) => r.rule_id === '.m.rule.master') : -1;
    const head = masterIdx === -1 ? [] : defs.splice(masterIdx, 1);
    out[kind] = [...head, ...mine, ...defs];
  }
  return out;
}

/** One rule of the effective ruleset (GET /pushrules/global/{kind}/{ruleId}); 404 if absent. */
export function getRule(
  userId: string,
  user: UserPushRules,
  kind: PushRuleKind,
  ruleId: string,
  options?: DefaultRulesOptions,
): PushRule {
  const found = mergeRuleset(userId, user, options)[kind].find((r) => r.rule_id === ruleId);
  if (!found) throw notFound();
  return found;
}

/**
 * spec: data/api/client-server/pushrules.yaml, PUT {ruleId}: "If the string starts with a dot
 * ("."), the request MUST be rejected as this is reserved for server-default rules. Slashes ("/")
 * and backslashes ("\\") are also not allowed." The spec names no errcode; the ID is a bad request
 * parameter, hence M_INVALID_PARAM.
 */
function checkNewRuleId(ruleId: string): void {
  if (ruleId === '') throw new PushRuleError(400, 'M_INVALID_PARAM', 'rule_id may not be empty');
  if (ruleId.startsWith('.')) {
    throw new PushRuleError(400, 'M_INVALID_PARAM', "rule_ids starting with '.' are reserved for server-default rules");
  }
  if (ruleId.includes('/') || ruleId.includes('\\')) {
    throw new PushRuleError(400, 'M_INVALID_PARAM', 'rule_id may not contain slashes or backslashes');
  }
}

/**
 * Rules are stored and mirrored into the m.push_rules account data, which is canonical JSON like
 * every other piece of it: a float or an integer beyond ±(2^53-1) in a tweak value or a
 * condition is the client's error, not something to store.
 */
function checkCanonical(value: unknown, what: string): void {
  try {
    canonicalJson(value);
  } catch (err) {
    if (err instanceof CanonicalJsonError) throw badJson(`${what}: ${err.message}`);
    throw err;
  }
}

/** spec: Client-Server API "Push Rules" > "Actions"; clients send the historical ones still, which are accepted and ignored. */
export function checkActions(actions: unknown): PushAction[] {
  if (!Array.isArray(actions)) throw badJson('actions must be an array');
  checkCanonical(actions, 'actions');
  for (const a of actions) {
    if (typeof a === 'string') {
      if (a !== 'notify' && a !== 'dont_notify' && a !== 'coalesce') throw badJson(`Unrecognised action: ${a}`);
    } else if (a === null || typeof a !== 'object' || Array.isArray(a) || typeof (a as { set_tweak?: unknown }).set_tweak !== 'string') {
      throw badJson('Unrecognised action: ' + JSON.stringify(a));
    }
  }
  return (actions as PushAction[]).map(copyAction);
}

function checkConditions(conditions: unknown): PushCondition[] {
  if (!Array.isArray(conditions)) throw badJson('conditions must be an array');
  checkCanonical(conditions, 'conditions');
  for (const c of conditions) {
    if (c === null || typeof c !== 'object' || Array.isArray(c) || typeof (c as { kind?: unknown }).kind !== 'string') {
      throw badJson('Each condition must be an object with a string kind');
    }
  }
  return (conditions as PushCondition[]).map((c) => ({ ...c }));
}

/**
 * Build the stored form of a user rule from a PUT body. The spec defines `conditions` for
 * override/underride and `pattern` for content rules only; room and sender rules are defined by
 * their rule_id (spec: Client-Server API "Push Rules", kinds list), so no conditions are stored.
 */
function ruleFromBody(kind: PushRuleKind, ruleId: string, body: unknown, enabled: boolean): PushRule {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badJson('Body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (!('actions' in b)) throw badJson('Missing actions');
  const rule: PushRule = { rule_id: ruleId, default: false, enabled, actions: checkActions(b.actions) };
  if (kind === 'override' || kind === 'underride') {
    // "A rule with no conditions always matches" (push_condition in pushrules.yaml): absent = [].
    rule.conditions = b.conditions === undefined ? [] : checkConditions(b.conditions);
  } else if (kind === 'content') {
    if (typeof b.pattern !== 'string') throw badJson('Content rules need a string pattern');
    rule.pattern = b.pattern;
  }
  return rule;
}

export interface Placement {
  before?: string;
  after?: string;
}

/**
 * PUT /pushrules/global/{kind}/{ruleId}. Returns a new UserPushRules; the input is not changed.
 * spec: pushrules.yaml: an existing rule of that kind is updated; a created rule without
 * before/after becomes the most important user rule; if both are given, `before` wins; new rules
 * are enabled. before/after may only name user-defined rules, and a missing one gives the spec's
 * example 400 M_UNKNOWN "before/after rule not found".
 */
export function putRule(
  user: UserPushRules,
  kind: PushRuleKind,
  ruleId: string,
  body: unknown,
  placement: Placement = {},
): UserPushRules {
  checkNewRuleId(ruleId);
  const list = user.rules[kind] ?? [];
  const existingIdx = list.findIndex((r) => r.rule_id === ruleId);
  const existing = existingIdx === -1 ? undefined : list[existingIdx];
  // An update keeps the rule's enabled state: only creation must enable it.
  const rule = ruleFromBody(kind, ruleId, body, existing?.enabled ?? true);

  const rest = list.filter((r) => r.rule_id !== ruleId);
  const anchorId = placement.before ?? placement.after;
  let next: PushRule[];
  if (anchorId !== undefined) {
    const anchorIdx = rest.findIndex((r) => r.rule_id === anchorId);
    if (anchorIdx === -1) throw new PushRuleError(400, 'M_UNKNOWN', `before/after rule not found: ${anchorId}`);
    const at = placement.before !== undefined ? anchorIdx : anchorIdx + 1;
    next = [...rest.slice(0, at), rule, ...rest.slice(at)];
  } else if (existing) {
    next = list.map((r, i) => (i === existingIdx ? rule : r));
  } else {
    next = [rule, ...rest];
  }
  return { rules: { ...user.rules, [kind]: next }, overrides: user.overrides };
}

/** DELETE /pushrules/global/{kind}/{ruleId}. Server-default rules cannot be deleted: the spec only defines 404 here. */
export function deleteRule(user: UserPushRules, kind: PushRuleKind, ruleId: string): UserPushRules {
  const list = user.rules[kind] ?? [];
  if (!list.some((r) => r.rule_id === ruleId)) throw notFound();
  return { rules: { ...user.rules, [kind]: list.filter((r) => r.rule_id !== ruleId) }, overrides: user.overrides };
}

function isDefaultRule(userId: string, kind: PushRuleKind, ruleId: string, options?: DefaultRulesOptions): boolean {
  return defaultRuleset(userId, options)[kind].some((r) => r.rule_id === ruleId);
}

function patch(
  userId: string,
  user: UserPushRules,
  kind: PushRuleKind,
  ruleId: string,
  change: { enabled?: boolean; actions?: PushAction[] },
  options?: DefaultRulesOptions,
): UserPushRules {
  const list = user.rules[kind] ?? [];
  const idx = list.findIndex((r) => r.rule_id === ruleId);
  if (idx !== -1) {
    const updated = { ...list[idx]!, ...change };
    return { rules: { ...user.rules, [kind]: list.map((r, i) => (i === idx ? updated : r)) }, overrides: user.overrides };
  }
  if (!isDefaultRule(userId, kind, ruleId, options)) throw notFound();
  const key = overrideKey(kind, ruleId);
  return { rules: user.rules, overrides: { ...user.overrides, [key]: { ...user.overrides[key], ...change } } };
}

/** PUT …/{ruleId}/enabled: works on user rules and server-default rules alike. */
export function setEnabled(
  userId: string,
  user: UserPushRules,
  kind: PushRuleKind,
  ruleId: string,
  enabled: unknown,
  options?: DefaultRulesOptions,
): UserPushRules {
  if (typeof enabled !== 'boolean') throw badJson('enabled must be a boolean');
  return patch(userId, user, kind, ruleId, { enabled }, options);
}

/** PUT …/{ruleId}/actions: "This can be used to change the actions of builtin rules" (pushrules.yaml). */
export function setActions(
  userId: string,
  user: UserPushRules,
  kind: PushRuleKind,
  ruleId: string,
  actions: unknown,
  options?: DefaultRulesOptions,
): UserPushRules {
  return patch(userId, user, kind, ruleId, { actions: checkActions(actions) }, options);
}
