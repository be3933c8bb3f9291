/**
 * Push rules evaluated once per event for every user with the same customisations, then finished
 * per user with only the conditions that name the user.
 *
 * Why: every event of a room is evaluated for every local member (spec: Client-Server API "Push
 * Rules"). Most members share their rules — nobody customised them, or a team muted the same
 * rooms — and of ~20 rules only a few depend on who is reading: `.m.rule.invite_for_me` (the
 * state key), `.m.rule.is_user_mention` (the mentioned user IDs), `.m.rule.contains_display_name`
 * and `.m.rule.contains_user_name` (the body). So the ruleset is built once for a placeholder user
 * (a *template*: `templateRuleset`), and for one event a `SharedEvaluation` walks it in order:
 * a rule whose user-independent conditions fail is dropped for everyone; a rule that has no
 * user-dependent condition left and matches ends the walk (everyone not matched before gets its
 * result); the rules in between keep only their user-dependent conditions, checked per user.
 * A join into a 10 000-member room then costs one Map lookup per member instead of a ruleset walk.
 *
 * The result per user is exactly `evaluate(mergeRuleset(userId, customisations), …)`: the template
 * is made by the same code with the placeholder in the user's place (a property test checks it).
 * The placeholder holds NUL characters, which no client can send (request bodies with NUL are
 * refused), so no user-defined rule can contain it.
 */
import { localpartOf, LEGACY_MENTION_RULE_IDS, type DefaultRulesOptions } from './default-rules.js';
import { mergeRuleset, PUSH_RULE_KINDS, type PushCondition, type PushRule, type PushRuleKind, type Ruleset, type UserPushRules } from './ruleset.js';
import { canonicalKey, conditionMatches, eventMatch, ruleMatches, summarise, type PreparedEvent, type PushContext, type PushResult } from './evaluator.js';

const TEMPLATE_USER = '@\u0000push-template\u0000:\u0000';
const TEMPLATE_LOCALPART = localpartOf(TEMPLATE_USER);

/** The ruleset of every user with these customisations, with a placeholder where the user's ID goes. */
export function templateRuleset(user: UserPushRules, options?: DefaultRulesOptions): Ruleset {
  return mergeRuleset(TEMPLATE_USER, user, options);
}

/** What the rules share across the room's members for one event. */
export type SharedContext = Omit<PushContext, 'userId' | 'displayName'>;

/** One reader: the user and their display name in the room. */
interface Reader {
  userId: string;
  displayName: string | undefined;
}

type UserTest = (reader: Reader) => boolean;

function mentionsTemplate(value: unknown): value is string {
  return typeof value === 'string' && value.includes('\u0000');
}

/** The template string with the reader's ID (or localpart) in the placeholder's place. */
function forReader(template: string, userId: string): string {
  if (template === TEMPLATE_USER) return userId;
  if (template === TEMPLATE_LOCALPART) return localpartOf(userId);
  return template.split(TEMPLATE_USER).join(userId).split(TEMPLATE_LOCALPART).join(localpartOf(userId));
}

function dependsOnReader(c: PushCondition): boolean {
  return c.kind === 'contains_display_name' || mentionsTemplate(c.pattern) || mentionsTemplate(c.value) || mentionsTemplate(c.key);
}

/**
 * A user-dependent condition as a per-reader test, or null when it can match no reader of this
 * event (the property it reads is absent or of the wrong type), which drops the rule for everyone.
 */
function readerTest(c: PushCondition, ev: PreparedEvent, shared: SharedContext): UserTest | null {
  const key = typeof c.key === 'string' && !mentionsTemplate(c.key) ? canonicalKey(c.key) : undefined;
  switch (c.kind) {
    case 'contains_display_name':
      if (ev.lowered('content.body') === undefined) return null;
      break;
    case 'event_match':
      if (key !== undefined && ev.lowered(key) === undefined) return null;
      break;
    case 'event_property_contains':
      if (key !== undefined && !Array.isArray(ev.flat.get(key))) return null;
      break;
    case 'event_property_is':
      if (key !== undefined && typeof ev.flat.get(key) !== 'string') return null;
      break;
  }
  const substituted = (userId: string): PushCondition => {
    const out: PushCondition = { ...c };
    if (mentionsTemplate(c.pattern)) out.pattern = forReader(c.pattern, userId);
    if (mentionsTemplate(c.value)) out.value = forReader(c.value, userId);
    if (mentionsTemplate(c.key)) out.key = forReader(c.key, userId);
    return out;
  };
  const plain = !mentionsTemplate(c.pattern) && !mentionsTemplate(c.value) && !mentionsTemplate(c.key);
  return (r) => conditionMatches(plain ? c : substituted(r.userId), ev, { ...shared, userId: r.userId, displayName: r.displayName });
}

interface Residual {
  result: PushResult;
  tests: UserTest[];
}

/** The evaluation of one template ruleset for one event (see the file comment). */
export class SharedEvaluation {
  private readonly residuals: Residual[] = [];
  private readonly fallback: PushResult;

  constructor(template: Ruleset, ev: PreparedEvent, shared: SharedContext) {
    const neutral: PushContext = { ...shared, userId: TEMPLATE_USER, displayName: undefined };
    let fallback: PushResult | undefined;
    walk: for (const kind of PUSH_RULE_KINDS) {
      for (const rule of template[kind] ?? []) {
        if (!rule.enabled) continue;
        // As evaluate(): the legacy mention rules sit out events that carry m.mentions.
        if (ev.hasMentions && rule.default && LEGACY_MENTION_RULE_IDS.has(rule.rule_id)) continue;
        const tests = this.readerTests(kind, rule, ev, shared, neutral);
        if (tests === null) continue;
        const result = summarise(rule, kind);
        if (!tests.length) {
          fallback = result;
          break walk;
        }
        this.residuals.push({ result, tests });
      }
    }
    this.fallback = fallback ?? summarise(null, null);
  }

  /** The per-reader tests a rule still needs, [] when it matches for everyone, null when for no one. */
  private readerTests(kind: PushRuleKind, rule: PushRule, ev: PreparedEvent, shared: SharedContext, neutral: PushContext): UserTest[] | null {
    if (kind === 'content' && mentionsTemplate(rule.pattern)) {
      const pattern = rule.pattern;
      if (ev.lowered('content.body') === undefined) return null;
      return [(r) => eventMatch(ev, 'content.body', forReader(pattern, r.userId))];
    }
    if (kind !== 'override' && kind !== 'underride') return ruleMatches(kind, rule, ev, neutral) ? [] : null;
    const tests: UserTest[] = [];
    for (const c of rule.conditions ?? []) {
      if (c !== null && typeof c === 'object' && dependsOnReader(c)) {
        const test = readerTest(c, ev, shared);
        if (!test) return null;
        tests.push(test);
      } else if (!conditionMatches(c, ev, neutral)) {
        return null;
      }
    }
    return tests;
  }

  /** The result for one reader, as evaluate() gives it with their own ruleset. */
  resultFor(userId: string, displayName: string | undefined): PushResult {
    if (!this.residuals.length) return this.fallback;
    const reader = { userId, displayName };
    for (const r of this.residuals) if (r.tests.every((t) => t(reader))) return r.result;
    return this.fallback;
  }
}
