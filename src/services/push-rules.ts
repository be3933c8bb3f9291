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
import type { AccountDataService } from './account-data.js';
import type { Notifier } from '../streams/notifier.js';

const CACHE_MAX = 20_000;

export class PushRuleService {
  private readonly cache = new Map<string, { user: UserPushRules; merged: Ruleset }>();

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

  private async load(userId: string): Promise<{ user: UserPushRules; merged: Ruleset }> {
    let entry = this.cache.get(userId);
    if (!entry) {
      const user = (await this.storage.pushRules.get(userId)) ?? emptyUserPushRules();
      entry = { user, merged: mergeRuleset(userId, user) };
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(userId, entry);
    }
    return entry;
  }

  /** The effective rulesets of many users, loading the uncached ones in one query. */
  async rulesets(userIds: string[]): Promise<Map<string, Ruleset>> {
    const out = new Map<string, Ruleset>();
    const missing: string[] = [];
    for (const u of userIds) {
      const e = this.cache.get(u);
      if (e) out.set(u, e.merged);
      else missing.push(u);
    }
    if (missing.length) {
      const stored = await this.storage.pushRules.getMany(missing);
      for (const u of missing) {
        const user = stored.get(u) ?? emptyUserPushRules();
        const entry = { user, merged: mergeRuleset(u, user) };
        if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(u, entry);
        out.set(u, entry.merged);
      }
    }
    return out;
  }

  async customisations(userId: string): Promise<UserPushRules> {
    return (await this.load(userId)).user;
  }

  /** The effective ruleset (GET /pushrules/global/ and evaluation). */
  async ruleset(userId: string): Promise<Ruleset> {
    return (await this.load(userId)).merged;
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
