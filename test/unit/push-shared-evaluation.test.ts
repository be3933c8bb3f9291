/**
 * The shared evaluation (one walk per template ruleset and event, finished per user) must give every
 * user exactly what evaluating their own merged ruleset gives. Checked on generated events, rooms
 * and customisations, from a fixed seed so a failure repeats.
 */
import { expect } from 'chai';
import {
  emptyUserPushRules,
  evaluate,
  mergeRuleset,
  prepareEvent,
  putRule,
  setActions,
  setEnabled,
  type UserPushRules,
} from '../../src/matrix/push-rules/index.js';
import { SharedEvaluation, templateRuleset } from '../../src/matrix/push-rules/shared-evaluation.js';
import type { JsonObject } from '../../src/matrix/types.js';

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = [
  { userId: '@alice:example.org', displayName: 'Alice' },
  { userId: '@bob:example.org', displayName: 'Bob Smith' },
  { userId: '@carol:example.org', displayName: undefined },
  { userId: '@dave.d:example.org', displayName: 'Дмитрий' },
  { userId: '@eve:other.example', displayName: 'eve' },
];
const ROOM = '!room:example.org';

describe('push rules: shared evaluation', () => {
  const rand = prng(20261206);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

  function body(): string {
    const words = ['hello', 'alice', 'Alice', 'bob smith', 'Bob', '@room', 'дмитрий', 'eve', 'dave.d', 'meeting', 'carol!', 'x'];
    return Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(words)).join(pick([' ', ', ', ': ']));
  }

  function event(): JsonObject {
    const sender = pick(USERS).userId;
    const kind = pick(['message', 'notice', 'member', 'member', 'reaction', 'encrypted', 'edit', 'tombstone', 'custom', 'call', 'acl'] as const);
    const base = { room_id: ROOM, sender, event_id: `$e${Math.floor(rand() * 1e9)}`, origin_server_ts: 1 };
    switch (kind) {
      case 'message':
      case 'notice': {
        const content: JsonObject = { msgtype: kind === 'notice' ? 'm.notice' : 'm.text', body: body() };
        if (rand() < 0.4) {
          const mentions: JsonObject = {};
          if (rand() < 0.7) mentions.user_ids = USERS.filter(() => rand() < 0.3).map((u) => u.userId);
          if (rand() < 0.3) mentions.room = rand() < 0.8;
          content['m.mentions'] = mentions;
        }
        return { ...base, type: 'm.room.message', content };
      }
      case 'member':
        return { ...base, type: 'm.room.member', state_key: pick(USERS).userId, content: { membership: pick(['invite', 'join', 'leave', 'ban']) } };
      case 'reaction':
        return { ...base, type: 'm.reaction', content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$x', key: '👍' } } };
      case 'encrypted':
        return { ...base, type: 'm.room.encrypted', content: { algorithm: 'm.megolm.v1.aes-sha2', ciphertext: 'abc' } };
      case 'edit':
        return { ...base, type: 'm.room.message', content: { msgtype: 'm.text', body: `* ${body()}`, 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } } };
      case 'tombstone':
        return { ...base, type: 'm.room.tombstone', state_key: '', content: { body: 'gone', replacement_room: '!new:example.org' } };
      case 'call':
        return { ...base, type: 'm.call.invite', content: { call_id: '1', version: 1 } };
      case 'acl':
        return { ...base, type: 'm.room.server_acl', state_key: '', content: { allow: ['*'] } };
      default:
        return { ...base, type: 'org.example.custom', content: { body: body(), flag: rand() < 0.5 } };
    }
  }

  /** Customisations such as clients make: muted rooms, keywords, disabled or changed defaults. */
  function customisations(): UserPushRules {
    let user = emptyUserPushRules();
    const anyone = USERS[0]!.userId;
    const steps = Math.floor(rand() * 4);
    for (let i = 0; i < steps; i++) {
      switch (Math.floor(rand() * 7)) {
        case 0:
          user = putRule(user, 'room', ROOM, { actions: [] });
          break;
        case 1:
          user = putRule(user, 'content', `kw${i}`, { pattern: pick(['meeting', 'alice', 'b*b', 'eve']), actions: ['notify', { set_tweak: 'highlight' }] });
          break;
        case 2:
          user = setEnabled(anyone, user, 'override', pick(['.m.rule.master', '.m.rule.suppress_notices', '.m.rule.member_event', '.m.rule.is_user_mention', '.m.rule.contains_display_name']), rand() < 0.5);
          break;
        case 3:
          user = setActions(anyone, user, 'underride', pick(['.m.rule.message', '.m.rule.room_one_to_one', '.m.rule.encrypted']), rand() < 0.5 ? [] : ['notify', { set_tweak: 'sound', value: 'ping' }]);
          break;
        case 4:
          user = putRule(user, 'sender', pick(USERS).userId, { actions: ['notify'] });
          break;
        case 5:
          user = putRule(user, 'override', `o${i}`, { conditions: [{ kind: 'event_match', key: 'content.body', pattern: '*eve*' }, { kind: 'room_member_count', is: '>2' }], actions: ['notify'] });
          break;
        default:
          user = putRule(user, 'underride', `u${i}`, { conditions: [{ kind: 'contains_display_name' }], actions: ['notify', { set_tweak: 'highlight', value: false }] });
      }
    }
    return user;
  }

  it('gives every user what their own ruleset gives, over 3 000 generated cases', () => {
    let notified = 0;
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      const user = customisations();
      const template = templateRuleset(user);
      const ev = prepareEvent(event());
      const shared = {
        roomMemberCount: pick([1, 2, 2, 3, 50]),
        senderPowerLevel: pick([0, 50, 100]),
        notificationPowerLevels: (rand() < 0.5 ? {} : { room: pick([0, 50, 100]) }) as Record<string, number>,
      };
      const evaluation = new SharedEvaluation(template, ev, shared);
      for (const u of USERS) {
        const expected = evaluate(mergeRuleset(u.userId, user), ev, { ...shared, userId: u.userId, displayName: u.displayName });
        const actual = evaluation.resultFor(u.userId, u.displayName);
        expect(actual, `case ${i}, ${u.userId}: ${JSON.stringify(ev.flat.get('type'))} with ${JSON.stringify(user)}`).to.deep.equal(expected);
        compared++;
        if (expected.notify) notified++;
      }
    }
    // The cases exercise both outcomes, so the comparison says something.
    expect(compared).to.equal(15_000);
    expect(notified).to.be.within(1_500, 13_500);
  });

  it('decides a join for everyone with one walk: no rule is left to check per member', () => {
    const ev = prepareEvent({ type: 'm.room.member', state_key: '@new:example.org', sender: '@new:example.org', room_id: ROOM, content: { membership: 'join' } });
    const evaluation = new SharedEvaluation(templateRuleset(emptyUserPushRules()), ev, { roomMemberCount: 10_000, senderPowerLevel: 0, notificationPowerLevels: {} });
    expect((evaluation as unknown as { residuals: unknown[] }).residuals).to.have.length(0);
    expect(evaluation.resultFor('@alice:example.org', 'Alice').notify).to.equal(false);
  });

  it('an invite notifies the invitee only', () => {
    const ev = prepareEvent({ type: 'm.room.member', state_key: '@bob:example.org', sender: '@alice:example.org', room_id: ROOM, content: { membership: 'invite' } });
    const evaluation = new SharedEvaluation(templateRuleset(emptyUserPushRules()), ev, { roomMemberCount: 3, senderPowerLevel: 100, notificationPowerLevels: {} });
    expect(evaluation.resultFor('@bob:example.org', undefined).rule_id).to.equal('.m.rule.invite_for_me');
    expect(evaluation.resultFor('@carol:example.org', undefined).notify).to.equal(false);
  });
});
