/**
 * Push rules (spec: Client-Server API §11.x "Push Rules"): the server-default ruleset merged with
 * each user's customisations. Every change is mirrored into the m.push_rules account data so
 * /sync delivers it, as Synapse does.
 */
import type { Storage } from '../storage/index.js';
import type { JsonObject } from '../matrix/types.js';
import {
  defaultRuleset,
  emptyUserPushRules,
  mergeRuleset,
  type Ruleset,
  type UserPushRules,
} from '../matrix/push-rules/index.js';
import { templateRuleset } from '../matrix/push-rules/shared-evaluation.js';
import { canonicalJson, CanonicalJsonError } from '../matrix/canonical-json.js';
import type { AccountDataService } from './account-data.js';
import type { Notifier } from '../streams/notifier.js';

const CACHE_MAX = 20_000;
/** Distinct customisations whose template rulesets are kept; beyond this the oldest goes. */
const TEMPLATES_MAX = 1_000;

interface CachedRules {
  userId: string;
  user: UserPushRules;
  /** The user's own effective ruleset, built when first asked for (evaluation uses the template). */
  merged?: Ruleset;
  /** The ruleset shared by every user with these customisations (shared-evaluation.ts). */
  template: Ruleset;
}

/**
 * The key of a user's customisations. Rules stored before bodies were checked for canonical JSON
 * may not encode: such a user gets a template of their own.
 */
function shapeOf(userId: string, user: UserPushRules): string {
  try {
    return canonicalJson(user);
  } catch (err) {
    if (err instanceof CanonicalJsonError) return `\u0000${userId}`;
    throw err;
  }
}

function mergedOf(entry: CachedRules): Ruleset {
  return (entry.merged ??= mergeRuleset(entry.userId, entry.user));
}

export class PushRuleService {
  private readonly cache = new Map<string, CachedRules>();
  /** Template rulesets by the canonical JSON of the customisations: users who share them share it. */
  private readonly templates = new Map<string, Ruleset>();

  constructor(
    private readonly storage: Storage,
    private readonly accountData: AccountDataService,
    notifier: Notifier,
  ) {
    // Another process's change arrives as an account-data notice: forget the cached rules.
    notifier.subscribe((n) => {
      if (n.stream === 'account_data') for (const u of n.userIds ?? []) this.cache.delete(u);
    });
  }

  private remember(userId: string, user: UserPushRules): CachedRules {
    const shape = shapeOf(userId, user);
    let template = this.templates.get(shape);
    if (!template) {
      template = templateRuleset(user);
      if (this.templates.size >= TEMPLATES_MAX) this.templates.delete(this.templates.keys().next().value!);
      this.templates.set(shape, template);
    }
    const entry: CachedRules = { userId, user, template };
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(userId, entry);
    return entry;
  }

  private async load(userId: string): Promise<CachedRules> {
    let entry = this.cache.get(userId);
    if (!entry) {
      const user = (await this.storage.pushRules.get(userId)) ?? emptyUserPushRules();
      entry = this.remember(userId, user);
    }
    return entry;
  }

  /**
   * The template rulesets of many users (shared-evaluation.ts): users with the same
   * customisations get the same object, so an event is evaluated once per distinct object.
   */
  async templatesOf(userIds: string[]): Promise<Map<string, Ruleset>> {
    const out = new Map<string, Ruleset>();
    for (const [u, e] of await this.entries(userIds)) out.set(u, e.template);
    return out;
  }

  private async entries(userIds: string[]): Promise<Map<string, CachedRules>> {
    const out = new Map<string, CachedRules>();
    const missing: string[] = [];
    for (const u of userIds) {
      const e = this.cache.get(u);
      if (e) out.set(u, e);
      else missing.push(u);
    }
    if (missing.length) {
      const stored = await this.storage.pushRules.getMany(missing);
      for (const u of missing) out.set(u, this.remember(u, stored.get(u) ?? emptyUserPushRules()));
    }
    return out;
  }

  async customisations(userId: string): Promise<UserPushRules> {
    return (await this.load(userId)).user;
  }

  /** The effective ruleset (GET /pushrules/global/ and evaluation). */
  async ruleset(userId: string): Promise<Ruleset> {
    return mergedOf(await this.load(userId));
  }

  /** Applies a change to the user's rules atomically; the change function throws PushRuleError. */
  async modify(userId: string, change: (user: UserPushRules) => UserPushRules): Promise<void> {
    const merged = await this.storage.db.transaction(async (tx) => {
      const current = (await this.storage.pushRules.get(userId, tx, true)) ?? emptyUserPushRules();
      const next = change(current);
      await this.storage.pushRules.put(tx, userId, next);
      return mergeRuleset(userId, next);
    });
    this.cache.delete(userId);
    await this.accountData.write(userId, '', 'm.push_rules', { global: merged } as unknown as JsonObject);
  }

  /** The m.push_rules account data of a user who never changed a rule. */
  static defaultAccountData(userId: string): JsonObject {
    return { global: defaultRuleset(userId) } as unknown as JsonObject;
  }
}
