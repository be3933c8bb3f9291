/**
 * The server-default push rules (spec: Client-Server API §11.12.1.4 "Predefined Rules").
 *
 * Which set: the rules of spec v1.16, plus Synapse's MSC3930 poll rules. Spec v1.17 removed the
 * three "legacy mention" rules (.m.rule.contains_display_name, .m.rule.roomnotif,
 * .m.rule.contains_user_name; MSC4210), but Synapse still serves them and clients that do not send
 * `m.mentions` yet rely on them, so they stay by default; the evaluator skips them for events that
 * carry `m.mentions`, as the v1.7-v1.16 text requires. `legacyMentionRules: false` gives the v1.17+
 * set.
 *
 * Actions follow the current spec text, which dropped the redundant `{set_tweak: highlight, value:
 * false}` entries older servers send: a missing highlight tweak already means "no highlight"
 * (spec: Client-Server API "Push Rules" > "Actions").
 */
import type { PushAction, PushCondition, PushRule, Ruleset } from './ruleset.js';

export interface DefaultRulesOptions {
  /** Serve the pre-v1.17 body-matching mention rules (default true, as Synapse does). */
  legacyMentionRules?: boolean;
  /** Serve the MSC3930 poll rules (default true: Element sends MSC3381 polls). */
  pollRules?: boolean;
}

/** IDs of the legacy body-matching mention rules (spec v1.7: "should only be enabled if the event does not have an m.mentions property"). */
export const LEGACY_MENTION_RULE_IDS: ReadonlySet<string> = new Set([
  '.m.rule.contains_display_name',
  '.m.rule.roomnotif',
  '.m.rule.contains_user_name',
]);

const NOTIFY = 'notify';
type Tweak = Exclude<PushAction, string>;
const SOUND_DEFAULT: Tweak = { set_tweak: 'sound', value: 'default' };
const SOUND_RING: Tweak = { set_tweak: 'sound', value: 'ring' };
const HIGHLIGHT: Tweak = { set_tweak: 'highlight' };

const match = (key: string, pattern: string): PushCondition => ({ kind: 'event_match', key, pattern });
const isType = (type: string): PushCondition => match('type', type);
const oneToOne: PushCondition = { kind: 'room_member_count', is: '2' };

/** A fresh rule object each time, so callers may mutate what they get back. */
function rule(ruleId: string, conditions: PushCondition[], actions: PushAction[], enabled = true): PushRule {
  return {
    rule_id: ruleId,
    default: true,
    enabled,
    conditions: conditions.map((c) => ({ ...c })),
    actions: actions.map((a) => (typeof a === 'string' ? a : { ...a })),
  };
}

/** The localpart of a user ID: what .m.rule.contains_user_name looks for in bodies. */
export function localpartOf(userId: string): string {
  const colon = userId.indexOf(':');
  const start = userId.startsWith('@') ? 1 : 0;
  return colon === -1 ? userId.slice(start) : userId.slice(start, colon);
}

/** The ruleset a user has before customising anything. */
export function defaultRuleset(userId: string, options: DefaultRulesOptions = {}): Ruleset {
  const legacy = options.legacyMentionRules ?? true;
  const polls = options.pollRules ?? true;

  // spec: Client-Server API §11.12.1.4 "Predefined Rules" > "Default Override Rules", in the spec's order.
  const override: PushRule[] = [
    // Disabled by default; enabling it silences everything (spec: ".m.rule.master").
    rule('.m.rule.master', [], [], false),
    rule('.m.rule.suppress_notices', [match('content.msgtype', 'm.notice')], []),
    rule(
      '.m.rule.invite_for_me',
      [isType('m.room.member'), match('content.membership', 'invite'), match('state_key', userId)],
      [NOTIFY, SOUND_DEFAULT],
    ),
    rule('.m.rule.member_event', [isType('m.room.member')], []),
    rule(
      '.m.rule.is_user_mention',
      [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
      [NOTIFY, SOUND_DEFAULT, HIGHLIGHT],
    ),
  ];
  if (legacy) {
    // spec v1.16: ".m.rule.contains_display_name" (removed in v1.17, see file comment).
    override.push(rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], [NOTIFY, SOUND_DEFAULT, HIGHLIGHT]));
  }
  override.push(
    rule(
      '.m.rule.is_room_mention',
      [
        { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
        { kind: 'sender_notification_permission', key: 'room' },
      ],
      [NOTIFY, HIGHLIGHT],
    ),
  );
  if (legacy) {
    // spec v1.16: ".m.rule.roomnotif" (removed in v1.17).
    override.push(
      rule(
        '.m.rule.roomnotif',
        [match('content.body', '@room'), { kind: 'sender_notification_permission', key: 'room' }],
        [NOTIFY, HIGHLIGHT],
      ),
    );
  }
  override.push(
    // No implicit state_key condition exists, so the rule pins it (spec: ".m.rule.tombstone").
    rule('.m.rule.tombstone', [isType('m.room.tombstone'), match('state_key', '')], [NOTIFY, HIGHLIGHT]),
    rule('.m.rule.reaction', [isType('m.reaction')], []),
    rule('.m.rule.room.server_acl', [isType('m.room.server_acl'), match('state_key', '')], []),
    rule(
      '.m.rule.suppress_edits',
      [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
      [],
    ),
  );
  if (polls) {
    // MSC3930, as Synapse serves it (unstable ID): poll votes never notify.
    override.push(rule('.org.matrix.msc3930.rule.poll_response', [isType('org.matrix.msc3381.poll.response')], []));
  }

  // spec v1.16: §11.12.1.4 "Predefined Rules" > "Default Content Rules" (removed in v1.17).
  const content: PushRule[] = [];
  if (legacy) {
    content.push({
      rule_id: '.m.rule.contains_user_name',
      default: true,
      enabled: true,
      pattern: localpartOf(userId),
      actions: [NOTIFY, { ...SOUND_DEFAULT }, { ...HIGHLIGHT }],
    });
  }

  // spec: Client-Server API §11.12.1.4 "Predefined Rules" > "Default Underride Rules", in the spec's order;
  // Synapse appends the poll rules.
  const underride: PushRule[] = [
    rule('.m.rule.call', [isType('m.call.invite')], [NOTIFY, SOUND_RING]),
    rule('.m.rule.encrypted_room_one_to_one', [oneToOne, isType('m.room.encrypted')], [NOTIFY, SOUND_DEFAULT]),
    rule('.m.rule.room_one_to_one', [oneToOne, isType('m.room.message')], [NOTIFY, SOUND_DEFAULT]),
    rule('.m.rule.message', [isType('m.room.message')], [NOTIFY]),
    rule('.m.rule.encrypted', [isType('m.room.encrypted')], [NOTIFY]),
  ];
  if (polls) {
    underride.push(
      rule('.org.matrix.msc3930.rule.poll_start_one_to_one', [oneToOne, isType('org.matrix.msc3381.poll.start')], [NOTIFY, SOUND_DEFAULT]),
      rule('.org.matrix.msc3930.rule.poll_start', [isType('org.matrix.msc3381.poll.start')], [NOTIFY]),
      rule('.org.matrix.msc3930.rule.poll_end_one_to_one', [oneToOne, isType('org.matrix.msc3381.poll.end')], [NOTIFY, SOUND_DEFAULT]),
      rule('.org.matrix.msc3930.rule.poll_end', [isType('org.matrix.msc3381.poll.end')], [NOTIFY]),
    );
  }

  return { override, content, room: [], sender: [], underride };
}
