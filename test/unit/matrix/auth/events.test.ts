import { ALICE, BOB, CAROL, TestRoom, expectAllowed, expectRefused } from './helpers.js';

describe('auth rules: other events', () => {
  it('a sender who is not joined cannot send', () => {
    const room = new TestRoom('11');
    const msg = room.event({ type: 'm.room.message', sender: BOB, content: { body: 'x' } });
    expectRefused(room.check(msg), /not joined/);
    room.member(BOB, 'invite');
    expectRefused(room.check(msg), /not joined/);
    room.member(BOB, 'join');
    expectAllowed(room.check(msg));
  });

  it('m.room.third_party_invite needs the invite level', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100 }, invite: 50 } });
    room.member(BOB, 'join');
    const byBob = room.event({ type: 'm.room.third_party_invite', sender: BOB, state_key: 't', content: {} });
    expectRefused(room.check(byBob), /invite level/);
    const byAlice = room.event({ type: 'm.room.third_party_invite', sender: ALICE, state_key: 't', content: {} });
    expectAllowed(room.check(byAlice));
  });

  it('a user below the needed level cannot send state (state_default 50)', () => {
    const room = new TestRoom('11');
    room.member(BOB, 'join');
    const topic = (sender: string) => room.event({ type: 'm.room.topic', sender, state_key: '', content: { topic: 't' } });
    expectRefused(room.check(topic(BOB)), /below the 50 needed for m\.room\.topic/);
    expectAllowed(room.check(topic(ALICE)));
  });

  it('without any power levels event, state needs 50 and only the creator (100) has it', () => {
    const room = new TestRoom('11', { powerLevels: false });
    room.member(BOB, 'join');
    const topic = (sender: string) => room.event({ type: 'm.room.topic', sender, state_key: '', content: { topic: 't' } });
    expectRefused(room.check(topic(BOB)), /below the 50/);
    expectAllowed(room.check(topic(ALICE)));
    expectAllowed(room.check(room.event({ type: 'm.room.message', sender: BOB, content: {} })));
  });

  it('the events map overrides events_default and state_default', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100 }, events: { 'm.room.message': 10, 'm.room.topic': 0 } } });
    room.member(BOB, 'join');
    expectRefused(room.check(room.event({ type: 'm.room.message', sender: BOB, content: {} })), /below the 10/);
    expectAllowed(room.check(room.event({ type: 'm.reaction', sender: BOB, content: {} })));
    expectAllowed(room.check(room.event({ type: 'm.room.topic', sender: BOB, state_key: '', content: {} })));
  });

  it('events_default applies to messages', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100 }, events_default: 20 } });
    room.member(BOB, 'join');
    expectRefused(room.check(room.event({ type: 'm.room.message', sender: BOB, content: {} })), /below the 20/);
    expectAllowed(room.check(room.event({ type: 'm.room.message', sender: ALICE, content: {} })));
  });

  it('a state_key starting with @ must be the sender', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 100 }, state_default: 0 } });
    room.member(BOB, 'join');
    expectRefused(room.check(room.event({ type: 'org.example.status', sender: BOB, state_key: ALICE, content: {} })), /must be the sender/);
    expectAllowed(room.check(room.event({ type: 'org.example.status', sender: BOB, state_key: BOB, content: {} })));
  });
});

describe('auth rules: m.room.aliases (v1-v5 special case)', () => {
  it("v5: a non-member may set aliases for their own server's state_key only", () => {
    const room = new TestRoom('5');
    const ok = room.event({ type: 'm.room.aliases', sender: BOB, state_key: 'b.test', content: { aliases: ['#x:b.test'] } });
    expectAllowed(room.check(ok));
    const wrong = room.event({ type: 'm.room.aliases', sender: BOB, state_key: 'a.test', content: { aliases: [] } });
    expectRefused(room.check(wrong), /sender's domain/);
    const noKey = room.event({ type: 'm.room.aliases', sender: BOB, content: {} });
    expectRefused(room.check(noKey), /must have a state_key/);
  });

  it('v6: m.room.aliases is an ordinary state event', () => {
    const room = new TestRoom('6');
    const ev = room.event({ type: 'm.room.aliases', sender: BOB, state_key: 'b.test', content: { aliases: [] } });
    expectRefused(room.check(ev), /not joined/);
    room.member(BOB, 'join');
    expectRefused(room.check(ev), /below the 50/);
  });
});

describe('auth rules: m.room.redaction', () => {
  const redaction = (room: TestRoom, sender: string, eventId: string, redacts: string) =>
    room.event({ type: 'm.room.redaction', sender, event_id: eventId, redacts, content: {} });

  it('v1: below the redact level only events from the same server may be redacted', () => {
    const room = new TestRoom('1');
    room.member(BOB, 'join');
    expectAllowed(room.check(redaction(room, BOB, '$r1:b.test', '$orig:b.test')));
    expectRefused(room.check(redaction(room, BOB, '$r2:b.test', '$orig:a.test')), /redact level/);
  });

  it('v2: at the redact level any event may be redacted', () => {
    const room = new TestRoom('2', { powerLevels: { users: { [ALICE]: 100, [BOB]: 50 } } });
    room.member(BOB, 'join');
    expectAllowed(room.check(redaction(room, BOB, '$r1:b.test', '$orig:a.test')));
  });

  it('v3+: the redact level is not an auth rule (checked when redacting instead)', () => {
    for (const id of ['3', '11', '12']) {
      const room = new TestRoom(id);
      room.member(CAROL, 'join');
      expectAllowed(room.check(redaction(room, CAROL, '$r3', '$orig')));
    }
  });

  it('v3+: an events entry for m.room.redaction still applies', () => {
    const room = new TestRoom('10', { powerLevels: { users: { [ALICE]: 100 }, events: { 'm.room.redaction': 30 } } });
    room.member(CAROL, 'join');
    expectRefused(room.check(redaction(room, CAROL, '$r4', '$orig')), /below the 30/);
  });
});
