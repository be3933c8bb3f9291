import { expect } from 'chai';
import {
  PushRuleError,
  defaultRuleset,
  deleteRule,
  emptyUserPushRules,
  evaluate,
  getRule,
  isSelfEvent,
  mergeRuleset,
  prepareEvent,
  putRule,
  setActions,
  setEnabled,
  type PushCondition,
  type PushContext,
  type Ruleset,
  type UserPushRules,
} from '../../../src/matrix/push-rules/index.js';
import type { JsonObject } from '../../../src/matrix/types.js';

const ME = '@alice:example.org';
const BOB = '@bob:example.org';
const ROOM = '!room:example.org';

const ctx = (over: Partial<PushContext> = {}): PushContext => ({
  userId: ME,
  displayName: 'Alice Smith',
  roomMemberCount: 5,
  senderPowerLevel: 0,
  notificationPowerLevels: {},
  ...over,
});

const ev = (type: string, content: JsonObject, extra: JsonObject = {}): JsonObject => ({
  event_id: '$e:example.org',
  room_id: ROOM,
  sender: BOB,
  origin_server_ts: 1,
  type,
  content,
  ...extra,
});
const msg = (content: JsonObject, extra: JsonObject = {}) => ev('m.room.message', { msgtype: 'm.text', ...content }, extra);

/** A ruleset holding one override rule "x" with these conditions: did it match? */
function matches(conditions: PushCondition[], event: JsonObject, c: PushContext = ctx()): boolean {
  const rs: Ruleset = {
    override: [{ rule_id: 'x', default: false, enabled: true, conditions, actions: ['notify'] }],
    content: [],
    room: [],
    sender: [],
    underride: [],
  };
  return evaluate(rs, event, c).rule_id === 'x';
}

const defaults = () => defaultRuleset(ME);

function expectError(fn: () => unknown, status: number, errcode: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a PushRuleError').to.be.instanceOf(PushRuleError);
  expect((caught as PushRuleError).status).to.equal(status);
  expect((caught as PushRuleError).errcode).to.equal(errcode);
}

describe('push rules: conditions', () => {
  it('event_match matches the whole value, case-insensitively, with * and ?', () => {
    const c = (pattern: string): PushCondition[] => [{ kind: 'event_match', key: 'content.topic', pattern }];
    const topic = (t: JsonObject['x']) => ev('m.room.topic', { topic: t }, { state_key: '' });
    expect(matches(c('lunc?*'), topic('Lunch plans'))).to.equal(true);
    expect(matches(c('lunc?*'), topic('LUNCH'))).to.equal(true);
    expect(matches(c('lunc?*'), topic(' lunch'))).to.equal(false);
    expect(matches(c('lunc?*'), topic('lunc'))).to.equal(false);
    expect(matches(c('lunch'), topic('lunch plans'))).to.equal(false);
    expect(matches(c('ПЛАН?'), topic('планы'))).to.equal(true);
    expect(matches(c('a?c'), topic('a\nc'))).to.equal(true);
    expect(matches(c('*'), topic(null))).to.equal(false);
    expect(matches(c('*'), topic(5))).to.equal(false);
    expect(matches(c('*'), ev('m.room.topic', {}))).to.equal(false);
  });

  it('event_match treats regex characters in the pattern literally', () => {
    const c = (pattern: string): PushCondition[] => [{ kind: 'event_match', key: 'type', pattern }];
    expect(matches(c('m.room.message'), msg({ body: 'x' }))).to.equal(true);
    expect(matches(c('m.room.message'), ev('mXroomXmessage', {}))).to.equal(false);
    expect(matches(c('m.(room)+'), ev('m.(room)+', {}))).to.equal(true);
    expect(matches(c('m.(room)+'), ev('m.roomroom', {}))).to.equal(false);
  });

  it('event_match on content.body matches at word boundaries', () => {
    const c: PushCondition[] = [{ kind: 'event_match', key: 'content.body', pattern: 'ex*ple' }];
    expect(matches(c, msg({ body: 'An example event.' }))).to.equal(true);
    expect(matches(c, msg({ body: 'exple' }))).to.equal(true);
    expect(matches(c, msg({ body: 'An exciting triple-whammy' }))).to.equal(true);
    expect(matches(c, msg({ body: 'Anexample event' }))).to.equal(false);
    expect(matches(c, msg({ body: 'examples' }))).to.equal(false);
    const plain: PushCondition[] = [{ kind: 'event_match', key: 'content.body', pattern: 'cake' }];
    expect(matches(plain, msg({ body: 'I like CAKE, a lot' }))).to.equal(true);
    expect(matches(plain, msg({ body: 'cupcakes' }))).to.equal(false);
  });

  it('globs stay fast on adversarial input (no catastrophic backtracking)', () => {
    const start = Date.now();
    const long = 'a'.repeat(60000);
    const spaced = 'cake '.repeat(12000);
    expect(matches([{ kind: 'event_match', key: 'content.topic', pattern: '*a*a*a*a*a*a*a*b' }], ev('m.room.topic', { topic: long }))).to.equal(false);
    expect(matches([{ kind: 'event_match', key: 'content.body', pattern: 'a*a*a*a*a*a*a*b' }], msg({ body: long }))).to.equal(false);
    expect(matches([{ kind: 'event_match', key: 'content.body', pattern: 'cake*lie' }], msg({ body: spaced }))).to.equal(false);
    expect(matches([{ kind: 'event_match', key: 'content.body', pattern: 'cake*lie' }], msg({ body: spaced + 'lie' }))).to.equal(true);
    expect(Date.now() - start).to.be.below(1000);
  });

  it('event_property_is matches exactly, without casting', () => {
    const create = (federate: JsonObject['x']) => ev('m.room.create', { 'm.federate': federate }, { state_key: '' });
    const c = (value: PushCondition['value']): PushCondition[] => [{ kind: 'event_property_is', key: 'content.m\\.federate', value }];
    expect(matches(c(true), create(true))).to.equal(true);
    expect(matches(c(true), create('true'))).to.equal(false);
    expect(matches(c(true), create(1))).to.equal(false);
    expect(matches(c(null), create(null))).to.equal(true);
    expect(matches(c(null), ev('m.room.create', {}))).to.equal(false);
    expect(matches(c(7), create(7))).to.equal(true);
    expect(matches(c('m.replace'), create('M.REPLACE'))).to.equal(false);
    // Floats are not canonical JSON, so they never take part.
    expect(matches(c(1.5), create(1.5))).to.equal(false);
  });

  it('event_property_contains looks for an exact array element', () => {
    const aliases = ev('m.room.canonical_alias', { alt_aliases: ['#somewhere:example.org', '#myroom:example.com', 3] }, { state_key: '' });
    const c = (value: PushCondition['value'], key = 'content.alt_aliases'): PushCondition[] => [{ kind: 'event_property_contains', key, value }];
    expect(matches(c('#myroom:example.com'), aliases)).to.equal(true);
    expect(matches(c(3), aliases)).to.equal(true);
    expect(matches(c(':example.com'), aliases)).to.equal(false);
    expect(matches(c('#MYROOM:example.com'), aliases)).to.equal(false);
    expect(matches(c('m.text', 'content.msgtype'), msg({ body: 'x' }))).to.equal(false);
  });

  it('dotted keys honour escaping of . and \\ in property names', () => {
    const edit = msg({ body: '* fixed', 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } });
    expect(matches([{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], edit)).to.equal(true);
    // Unescaped, the path means content → m → relates_to, which does not exist.
    expect(matches([{ kind: 'event_property_is', key: 'content.m.relates_to.rel_type', value: 'm.replace' }], edit)).to.equal(false);
    const nested = msg({ body: 'x', m: { relates_to: { rel_type: 'nested' } } });
    expect(matches([{ kind: 'event_property_is', key: 'content.m.relates_to.rel_type', value: 'nested' }], nested)).to.equal(true);
    expect(matches([{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'nested' }], nested)).to.equal(false);
    const backslash = msg({ body: 'x', 'm\\foo': 'yes', 'm\\x': 'lit' });
    expect(matches([{ kind: 'event_property_is', key: 'content.m\\\\foo', value: 'yes' }], backslash)).to.equal(true);
    // spec: "a \x would be treated as a literal backslash followed by 'x'".
    expect(matches([{ kind: 'event_property_is', key: 'content.m\\x', value: 'lit' }], backslash)).to.equal(true);
  });

  it('contains_display_name matches the name at word boundaries, literally', () => {
    const c: PushCondition[] = [{ kind: 'contains_display_name' }];
    expect(matches(c, msg({ body: 'Hey Alice Smith!' }))).to.equal(true);
    expect(matches(c, msg({ body: 'hey alice smith' }))).to.equal(true);
    expect(matches(c, msg({ body: 'AliceSmithy' }))).to.equal(false);
    expect(matches(c, msg({ body: 'Alice Smithson' }))).to.equal(false);
    expect(matches(c, msg({ body: 'Hey Alice Smith' }), ctx({ displayName: undefined }))).to.equal(false);
    expect(matches(c, msg({ body: 'Hey' }), ctx({ displayName: '' }))).to.equal(false);
    expect(matches(c, msg({ body: 'Abc' }), ctx({ displayName: 'A*' }))).to.equal(false);
    expect(matches(c, msg({ body: 'hi A*' }), ctx({ displayName: 'A*' }))).to.equal(true);
    expect(matches(c, msg({ body: 'Привет, АЛИСА!' }), ctx({ displayName: 'Алиса' }))).to.equal(true);
    expect(matches(c, msg({ body: 'Привет, Борис!' }), ctx({ displayName: 'Алиса' }))).to.equal(false);
  });

  it('room_member_count supports ==, <, >, <=, >= and a bare number', () => {
    const at = (is: string, n: number) => matches([{ kind: 'room_member_count', is }], msg({ body: 'x' }), ctx({ roomMemberCount: n }));
    expect(at('2', 2)).to.equal(true);
    expect(at('2', 3)).to.equal(false);
    expect(at('==2', 2)).to.equal(true);
    expect(at('==2', 1)).to.equal(false);
    expect(at('<2', 1)).to.equal(true);
    expect(at('<2', 2)).to.equal(false);
    expect(at('>2', 3)).to.equal(true);
    expect(at('>2', 2)).to.equal(false);
    expect(at('<=10', 10)).to.equal(true);
    expect(at('<=10', 11)).to.equal(false);
    expect(at('>=10', 10)).to.equal(true);
    expect(at('>=10', 9)).to.equal(false);
    expect(at('=2', 2)).to.equal(false);
    expect(at('two', 2)).to.equal(false);
  });

  it('sender_notification_permission uses notifications power levels, 50 by default', () => {
    const c: PushCondition[] = [{ kind: 'sender_notification_permission', key: 'room' }];
    const e = msg({ body: 'x' });
    expect(matches(c, e, ctx({ senderPowerLevel: 50 }))).to.equal(true);
    expect(matches(c, e, ctx({ senderPowerLevel: 49 }))).to.equal(false);
    expect(matches(c, e, ctx({ senderPowerLevel: 10, notificationPowerLevels: { room: 10 } }))).to.equal(true);
    expect(matches(c, e, ctx({ senderPowerLevel: 50, notificationPowerLevels: { room: 100 } }))).to.equal(false);
  });

  it('unknown condition kinds never match; no conditions always matches', () => {
    const e = msg({ body: 'x' });
    expect(matches([{ kind: 'org.example.future' }], e)).to.equal(false);
    expect(matches([{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }, { kind: 'nope' }], e)).to.equal(false);
    expect(matches([{ kind: 'event_match', key: 'type' }], e)).to.equal(false);
    expect(matches([], e)).to.equal(true);
  });
});

describe('push rules: server-default rules', () => {
  const run = (event: JsonObject, c: PushContext = ctx(), rs: Ruleset = defaults()) => evaluate(rs, event, c);

  it('has the spec order, with Synapse poll rules and the localpart in contains_user_name', () => {
    const rs = defaults();
    expect(rs.override.map((r) => r.rule_id)).to.deep.equal([
      '.m.rule.master', '.m.rule.suppress_notices', '.m.rule.invite_for_me', '.m.rule.member_event',
      '.m.rule.is_user_mention', '.m.rule.contains_display_name', '.m.rule.is_room_mention', '.m.rule.roomnotif',
      '.m.rule.tombstone', '.m.rule.reaction', '.m.rule.room.server_acl', '.m.rule.suppress_edits',
      '.org.matrix.msc3930.rule.poll_response',
    ]);
    expect(rs.underride.map((r) => r.rule_id)).to.deep.equal([
      '.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted',
      '.org.matrix.msc3930.rule.poll_start_one_to_one', '.org.matrix.msc3930.rule.poll_start',
      '.org.matrix.msc3930.rule.poll_end_one_to_one', '.org.matrix.msc3930.rule.poll_end',
    ]);
    expect(rs.content).to.have.length(1);
    expect(rs.content[0]).to.include({ rule_id: '.m.rule.contains_user_name', pattern: 'alice', default: true, enabled: true });
    expect(rs.override[0]!.enabled).to.equal(false);
    expect(rs.override.every((r) => r.default)).to.equal(true);
    const modern = defaultRuleset(ME, { legacyMentionRules: false });
    expect(modern.content).to.deep.equal([]);
    expect(modern.override.map((r) => r.rule_id)).to.not.include('.m.rule.roomnotif');
  });

  it('a plain message in a 1:1 room notifies with the default sound', () => {
    const r = run(msg({ body: 'hello', 'm.mentions': {} }), ctx({ roomMemberCount: 2 }));
    expect(r).to.deep.include({ rule_id: '.m.rule.room_one_to_one', notify: true, highlight: false, sound: 'default' });
  });

  it('a plain message in a group notifies without sound or highlight', () => {
    const r = run(msg({ body: 'hello', 'm.mentions': {} }));
    expect(r).to.deep.include({ rule_id: '.m.rule.message', kind: 'underride', notify: true, highlight: false, actions: ['notify'] });
    expect(r.sound).to.equal(undefined);
  });

  it('m.mentions.user_ids naming the user highlights; naming someone else does not', () => {
    const r = run(msg({ body: 'hi', 'm.mentions': { user_ids: [ME] } }));
    expect(r).to.deep.include({ rule_id: '.m.rule.is_user_mention', notify: true, highlight: true, sound: 'default' });
    // With m.mentions present the legacy body rules are off, so "alice" in the body is not a mention.
    const other = run(msg({ body: 'alice Alice Smith', 'm.mentions': { user_ids: ['@carol:example.org'] } }));
    expect(other).to.deep.include({ rule_id: '.m.rule.message', highlight: false });
  });

  it('@room via m.mentions needs the sender to have notification power', () => {
    const e = msg({ body: 'all hands', 'm.mentions': { room: true } });
    expect(run(e, ctx({ senderPowerLevel: 50 }))).to.deep.include({ rule_id: '.m.rule.is_room_mention', highlight: true });
    expect(run(e, ctx({ senderPowerLevel: 0 }))).to.deep.include({ rule_id: '.m.rule.message', highlight: false });
  });

  it('legacy @room in the body (no m.mentions) needs the sender to have notification power', () => {
    const e = msg({ body: '@room: fire drill' });
    expect(run(e, ctx({ senderPowerLevel: 100 }))).to.deep.include({ rule_id: '.m.rule.roomnotif', highlight: true });
    expect(run(e, ctx({ senderPowerLevel: 0 }))).to.deep.include({ rule_id: '.m.rule.message', highlight: false });
    expect(run(msg({ body: '@room: fire drill', 'm.mentions': {} }), ctx({ senderPowerLevel: 100 })).rule_id).to.equal('.m.rule.message');
  });

  it('legacy display name and localpart mentions only without m.mentions', () => {
    expect(run(msg({ body: 'Alice Smith: ping' }))).to.deep.include({ rule_id: '.m.rule.contains_display_name', highlight: true, sound: 'default' });
    expect(run(msg({ body: 'Alice Smith: ping', 'm.mentions': {} })).rule_id).to.equal('.m.rule.message');
    const byLocalpart = run(msg({ body: 'ask alice about it' }), ctx({ displayName: 'Ally' }));
    expect(byLocalpart).to.deep.include({ rule_id: '.m.rule.contains_user_name', kind: 'content', highlight: true });
    expect(run(msg({ body: 'ask malice' }), ctx({ displayName: 'Ally' })).rule_id).to.equal('.m.rule.message');
  });

  it('notices, reactions, edits and server ACLs do not notify', () => {
    for (const [e, id] of [
      [msg({ msgtype: 'm.notice', body: 'bot says hi Alice Smith' }), '.m.rule.suppress_notices'],
      [ev('m.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: '👍' } }), '.m.rule.reaction'],
      [msg({ body: '* hello', 'm.new_content': { body: 'hello' }, 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } }), '.m.rule.suppress_edits'],
      [ev('m.room.server_acl', { allow: ['*'] }, { state_key: '' }), '.m.rule.room.server_acl'],
    ] as const) {
      const r = run(e, ctx({ roomMemberCount: 2 }));
      expect(r.rule_id).to.equal(id);
      expect(r).to.deep.include({ notify: false, highlight: false, actions: [] });
    }
  });

  it('an invite for me notifies with sound; other membership changes do not', () => {
    const invite = (target: string) => ev('m.room.member', { membership: 'invite' }, { state_key: target });
    expect(run(invite(ME))).to.deep.include({ rule_id: '.m.rule.invite_for_me', notify: true, sound: 'default', highlight: false });
    expect(run(invite('@carol:example.org'))).to.deep.include({ rule_id: '.m.rule.member_event', notify: false });
  });

  it('a tombstone state event highlights; a non-state tombstone does not', () => {
    const tomb = ev('m.room.tombstone', { body: 'moved', replacement_room: '!new:example.org' }, { state_key: '' });
    expect(run(tomb)).to.deep.include({ rule_id: '.m.rule.tombstone', notify: true, highlight: true });
    expect(run(ev('m.room.tombstone', { body: 'moved' }))).to.deep.include({ rule_id: null, notify: false, actions: [] });
  });

  it('encrypted events: sound in 1:1 rooms, plain notify in groups', () => {
    const enc = ev('m.room.encrypted', { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'AwgAEn...' });
    expect(run(enc, ctx({ roomMemberCount: 2 }))).to.deep.include({ rule_id: '.m.rule.encrypted_room_one_to_one', sound: 'default' });
    const group = run(enc, ctx({ roomMemberCount: 12 }));
    expect(group).to.deep.include({ rule_id: '.m.rule.encrypted', notify: true, highlight: false });
    expect(group.sound).to.equal(undefined);
  });

  it('calls ring; polls notify like messages', () => {
    expect(run(ev('m.call.invite', { call_id: 'c', version: '1' }))).to.deep.include({ rule_id: '.m.rule.call', sound: 'ring' });
    const poll = ev('org.matrix.msc3381.poll.start', {});
    expect(run(poll)).to.deep.include({ rule_id: '.org.matrix.msc3930.rule.poll_start', notify: true });
    expect(run(poll, ctx({ roomMemberCount: 2 }))).to.deep.include({ rule_id: '.org.matrix.msc3930.rule.poll_start_one_to_one', sound: 'default' });
    expect(run(ev('org.matrix.msc3381.poll.response', {}))).to.deep.include({ rule_id: '.org.matrix.msc3930.rule.poll_response', notify: false });
  });

  it('a disabled default rule is skipped, and the master rule silences everything', () => {
    let user = setEnabled(ME, emptyUserPushRules(), 'underride', '.m.rule.message', false);
    expect(run(msg({ body: 'hi', 'm.mentions': {} }), ctx(), mergeRuleset(ME, user)).rule_id).to.equal(null);
    expect(getRule(ME, user, 'underride', '.m.rule.message').enabled).to.equal(false);
    user = setEnabled(ME, user, 'override', '.m.rule.master', true);
    const r = run(msg({ body: 'hi', 'm.mentions': { user_ids: [ME] } }), ctx(), mergeRuleset(ME, user));
    expect(r).to.deep.include({ rule_id: '.m.rule.master', notify: false, highlight: false });
  });

  it('historical dont_notify / coalesce actions are stripped', () => {
    const rs = defaults();
    rs.override.splice(1, 0, { rule_id: 'old', default: false, enabled: true, conditions: [], actions: ['dont_notify', 'coalesce'] });
    expect(run(msg({ body: 'x' }), ctx(), rs)).to.deep.include({ rule_id: 'old', actions: [], notify: false });
  });

  it('one prepared event serves many users', () => {
    const prepared = prepareEvent(msg({ body: 'hi', 'm.mentions': { user_ids: [BOB] } }));
    expect(evaluate(defaultRuleset(BOB), prepared, ctx({ userId: BOB })).highlight).to.equal(true);
    expect(evaluate(defaults(), prepared, ctx()).highlight).to.equal(false);
    expect(isSelfEvent(prepared, BOB)).to.equal(true);
    expect(isSelfEvent(msg({ body: 'x' }), ME)).to.equal(false);
  });
});

describe('push rules: user customisations', () => {
  const ids = (user: UserPushRules, kind: 'override' | 'content' | 'underride') => mergeRuleset(ME, user)[kind].map((r) => r.rule_id);
  const silence = { conditions: [{ kind: 'event_match', key: 'room_id', pattern: ROOM }], actions: [] };

  it('user override rules sit after .m.rule.master and before the other defaults, and take effect', () => {
    const empty = emptyUserPushRules();
    const user = putRule(empty, 'override', 'mute', silence);
    expect(ids(user, 'override').slice(0, 3)).to.deep.equal(['.m.rule.master', 'mute', '.m.rule.suppress_notices']);
    expect(mergeRuleset(ME, user).override[1]).to.deep.include({ default: false, enabled: true });
    expect(evaluate(mergeRuleset(ME, user), msg({ body: 'hi' }), ctx({ roomMemberCount: 2 }))).to.deep.include({ rule_id: 'mute', notify: false });
    expect(empty.rules.override).to.deep.equal([]);
    const under = putRule(user, 'underride', 'u1', { conditions: [], actions: ['notify'] });
    expect(ids(under, 'underride')[0]).to.equal('u1');
  });

  it('places rules with before / after; both given means before wins', () => {
    const body = { conditions: [], actions: ['notify'] };
    let user = putRule(emptyUserPushRules(), 'override', 'A', body);
    user = putRule(user, 'override', 'B', body);
    expect(user.rules.override.map((r) => r.rule_id)).to.deep.equal(['B', 'A']);
    user = putRule(user, 'override', 'C', body, { after: 'B' });
    user = putRule(user, 'override', 'D', body, { before: 'A' });
    expect(user.rules.override.map((r) => r.rule_id)).to.deep.equal(['B', 'C', 'D', 'A']);
    user = putRule(user, 'override', 'E', body, { before: 'B', after: 'A' });
    expect(user.rules.override.map((r) => r.rule_id)).to.deep.equal(['E', 'B', 'C', 'D', 'A']);
    user = putRule(user, 'override', 'A', body, { before: 'C' });
    expect(user.rules.override.map((r) => r.rule_id)).to.deep.equal(['E', 'B', 'A', 'C', 'D']);
  });

  it('refuses before / after naming a missing or server-default rule', () => {
    const user = putRule(emptyUserPushRules(), 'override', 'A', silence);
    expectError(() => putRule(user, 'override', 'B', silence, { before: 'nope' }), 400, 'M_UNKNOWN');
    expectError(() => putRule(user, 'override', 'B', silence, { after: '.m.rule.suppress_notices' }), 400, 'M_UNKNOWN');
    expectError(() => putRule(user, 'underride', 'B', silence, { after: 'A' }), 400, 'M_UNKNOWN');
  });

  it('refuses reserved and malformed rule IDs and bodies', () => {
    const u = emptyUserPushRules();
    expectError(() => putRule(u, 'override', '.m.rule.master', silence), 400, 'M_INVALID_PARAM');
    expectError(() => putRule(u, 'override', '.mine', silence), 400, 'M_INVALID_PARAM');
    expectError(() => putRule(u, 'override', 'a/b', silence), 400, 'M_INVALID_PARAM');
    expectError(() => putRule(u, 'override', 'a\\b', silence), 400, 'M_INVALID_PARAM');
    expectError(() => putRule(u, 'content', 'c', { actions: ['notify'] }), 400, 'M_BAD_JSON');
    expectError(() => putRule(u, 'override', 'o', { conditions: [] }), 400, 'M_BAD_JSON');
    expectError(() => putRule(u, 'override', 'o', { conditions: [], actions: ['explode'] }), 400, 'M_BAD_JSON');
    expectError(() => putRule(u, 'override', 'o', { conditions: [{ key: 'type' }], actions: [] }), 400, 'M_BAD_JSON');
  });

  it('content, room and sender rules match by pattern, room ID and sender', () => {
    let user = putRule(emptyUserPushRules(), 'content', 'cake', { pattern: 'cake*lie', actions: ['notify', { set_tweak: 'sound', value: 'cake.wav' }] });
    user = putRule(user, 'room', '!quiet:example.org', { actions: [] });
    user = putRule(user, 'sender', '@spam:example.org', { actions: [] });
    const rs = mergeRuleset(ME, user);
    expect(rs.content.map((r) => r.rule_id)).to.deep.equal(['cake', '.m.rule.contains_user_name']);
    expect(rs.room[0]).to.deep.equal({ rule_id: '!quiet:example.org', default: false, enabled: true, actions: [] });
    const hi = { body: 'the cake is a lie', 'm.mentions': {} };
    expect(evaluate(rs, msg(hi), ctx())).to.deep.include({ rule_id: 'cake', kind: 'content', sound: 'cake.wav' });
    expect(evaluate(rs, msg({ body: 'hi' }, { room_id: '!quiet:example.org' }), ctx())).to.deep.include({ rule_id: '!quiet:example.org', notify: false });
    expect(evaluate(rs, msg({ body: 'hi' }, { sender: '@spam:example.org' }), ctx())).to.deep.include({ rule_id: '@spam:example.org', notify: false });
    expect(evaluate(rs, msg({ body: 'hi' }), ctx()).rule_id).to.equal('.m.rule.message');
  });

  it('an update keeps the position and enabled state of the rule', () => {
    let user = putRule(emptyUserPushRules(), 'override', 'A', silence);
    user = putRule(user, 'override', 'B', silence);
    user = setEnabled(ME, user, 'override', 'A', false);
    user = putRule(user, 'override', 'A', { conditions: [], actions: ['notify'] });
    expect(user.rules.override.map((r) => [r.rule_id, r.enabled])).to.deep.equal([['B', true], ['A', false]]);
    expect(getRule(ME, user, 'override', 'A').actions).to.deep.equal(['notify']);
  });

  it('deletes user rules only', () => {
    const user = putRule(emptyUserPushRules(), 'override', 'A', silence);
    expect(deleteRule(user, 'override', 'A').rules.override).to.deep.equal([]);
    expectError(() => deleteRule(user, 'override', 'B'), 404, 'M_NOT_FOUND');
    expectError(() => deleteRule(user, 'override', '.m.rule.master'), 404, 'M_NOT_FOUND');
    expect(user.rules.override).to.have.length(1);
  });

  it('sets actions and enabled on default and user rules, 404 on unknown ones', () => {
    let user = setActions(ME, emptyUserPushRules(), 'underride', '.m.rule.message', ['notify', { set_tweak: 'sound', value: 'ping' }]);
    expect(evaluate(mergeRuleset(ME, user), msg({ body: 'x', 'm.mentions': {} }), ctx())).to.deep.include({ rule_id: '.m.rule.message', sound: 'ping' });
    expect(getRule(ME, user, 'underride', '.m.rule.message')).to.deep.include({ default: true, enabled: true });
    user = putRule(user, 'override', 'A', silence);
    user = setActions(ME, user, 'override', 'A', ['notify']);
    expect(getRule(ME, user, 'override', 'A').actions).to.deep.equal(['notify']);
    expectError(() => setEnabled(ME, user, 'override', '.m.rule.message', false), 404, 'M_NOT_FOUND');
    expectError(() => setEnabled(ME, user, 'room', '!nope:example.org', false), 404, 'M_NOT_FOUND');
    expectError(() => setEnabled(ME, user, 'override', 'A', 'yes'), 400, 'M_BAD_JSON');
    expectError(() => setActions(ME, user, 'override', 'A', 'notify'), 400, 'M_BAD_JSON');
    expectError(() => getRule(ME, user, 'content', 'nope'), 404, 'M_NOT_FOUND');
  });
});
