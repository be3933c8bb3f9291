import { expect } from 'chai';
import { startTestServer, type TestServer, type TestUser } from '../harness.js';

/**
 * A room upgrade carries each local user's own settings for the room over to the new room, as
 * Synapse does (copy_user_state_on_room_upgrade): room tags, the m.direct entry and the push rules
 * about the room. For every local member at upgrade time, and for a user who joins the new room
 * from the old one later; never for a user who was not in the old room.
 */
describe('room upgrades carry users’ room settings over (tags, m.direct, push rules)', () => {
  const CS = '/_matrix/client/v3';
  const enc = encodeURIComponent;
  let t: TestServer;
  let alice: TestUser; // creates and upgrades the room
  let bob: TestUser; // member of the old room; joins the new room after the upgrade
  let carol: TestUser; // never in the old room, only has stale settings for it
  let dave: TestUser; // joins the old room only after the upgrade, then follows the tombstone
  let elsewhere: string; // another room, whose settings must stay where they are
  let oldId: string;
  let newId: string;
  let aliceBeforeUpgrade: string; // alice's sync token from before the upgrade
  let txn = 0;

  const ok = <T extends { status: number; body: any }>(res: T, what: string): T => {
    expect(res.status, `${what}: ${JSON.stringify(res.body)}`).to.equal(200);
    return res;
  };
  const putTag = async (u: TestUser, roomId: string, tag: string, body: object = {}) =>
    ok(await t.request('PUT', `${CS}/user/${enc(u.userId)}/rooms/${enc(roomId)}/tags/${enc(tag)}`, { token: u.accessToken, body }), 'PUT tag');
  const tagsOf = async (u: TestUser, roomId: string) =>
    ok(await t.request('GET', `${CS}/user/${enc(u.userId)}/rooms/${enc(roomId)}/tags`, { token: u.accessToken }), 'GET tags').body.tags;
  const putDirect = async (u: TestUser, content: object) =>
    ok(await t.request('PUT', `${CS}/user/${enc(u.userId)}/account_data/m.direct`, { token: u.accessToken, body: content }), 'PUT m.direct');
  const directOf = async (u: TestUser) =>
    ok(await t.request('GET', `${CS}/user/${enc(u.userId)}/account_data/m.direct`, { token: u.accessToken }), 'GET m.direct').body;
  const putRule = async (u: TestUser, kind: string, ruleId: string, body: object) =>
    ok(await t.request('PUT', `${CS}/pushrules/global/${kind}/${enc(ruleId)}`, { token: u.accessToken, body }), 'PUT push rule');
  const rulesOf = async (u: TestUser) => ok(await t.request('GET', `${CS}/pushrules/`, { token: u.accessToken }), 'GET /pushrules/').body.global;
  const join = async (u: TestUser, roomId: string) => ok(await t.request('POST', `${CS}/join/${enc(roomId)}`, { token: u.accessToken, body: {} }), 'join');
  const sync = async (u: TestUser, since?: string) => {
    const q = since ? `?since=${enc(since)}&timeout=0` : '';
    return ok(await t.request('GET', `${CS}/sync${q}`, { token: u.accessToken }), 'sync').body;
  };
  const send = async (u: TestUser, roomId: string, body: string) =>
    ok(await t.request('PUT', `${CS}/rooms/${enc(roomId)}/send/m.room.message/t${++txn}`, { token: u.accessToken, body: { msgtype: 'm.text', body } }), 'send');
  const globalData = (body: any, type: string) => (body.account_data?.events ?? []).filter((e: any) => e.type === type).at(-1)?.content;
  const roomData = (body: any, roomId: string, type: string) =>
    (body.rooms?.join?.[roomId]?.account_data?.events ?? []).filter((e: any) => e.type === type).at(-1)?.content;
  const muteOld = () => ({ conditions: [{ kind: 'event_match', key: 'room_id', pattern: oldId }], actions: [] });

  before(async () => {
    t = await startTestServer();
    [alice, bob, carol, dave] = [await t.registerUser(), await t.registerUser(), await t.registerUser(), await t.registerUser()];
    oldId = ok(await t.request('POST', `${CS}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat', room_version: '10' } }), 'createRoom').body.room_id;
    elsewhere = ok(await t.request('POST', `${CS}/createRoom`, { token: alice.accessToken, body: { preset: 'public_chat' } }), 'createRoom').body.room_id;
    await join(bob, oldId);

    // Alice: favourite and a folder, a DM entry, and "mentions only" for the room (a room rule).
    await putTag(alice, oldId, 'm.favourite', { order: 0.25 });
    await putTag(alice, oldId, 'u.work');
    await putTag(alice, elsewhere, 'u.elsewhere');
    await putDirect(alice, { [bob.userId]: ['!dm-before:test.local', oldId], [dave.userId]: ['!unrelated:test.local'] });
    await putRule(alice, 'room', oldId, { actions: ['dont_notify'] });
    await putRule(alice, 'room', elsewhere, { actions: [] });
    // Bob: low priority, a DM entry, and the room muted as Element does it (an override rule).
    await putTag(bob, oldId, 'm.lowpriority', { order: 0.5 });
    await putDirect(bob, { [alice.userId]: [oldId] });
    await putRule(bob, 'override', oldId, muteOld());
    // Carol never joins the old room, yet has settings naming it (tags and m.direct accept any room).
    await putTag(carol, oldId, 'm.favourite');
    await putDirect(carol, { [alice.userId]: [oldId] });
    await putRule(carol, 'override', oldId, muteOld());

    aliceBeforeUpgrade = (await sync(alice)).next_batch;
    newId = ok(await t.request('POST', `${CS}/rooms/${enc(oldId)}/upgrade`, { token: alice.accessToken, body: { new_version: '11' } }), 'upgrade').body.replacement_room;
  });
  after(async () => t?.close());

  it('the upgrader finds the tags, the m.direct entry and the room push rule on the new room, and /sync delivers them', async () => {
    expect(await tagsOf(alice, newId)).to.deep.equal({ 'm.favourite': { order: 0.25 }, 'u.work': {} });
    // Copies, not moves: the old room keeps its settings, and the other room is untouched.
    expect(await tagsOf(alice, oldId)).to.deep.equal({ 'm.favourite': { order: 0.25 }, 'u.work': {} });
    expect(await tagsOf(alice, elsewhere)).to.deep.equal({ 'u.elsewhere': {} });
    expect(await directOf(alice)).to.deep.equal({ [bob.userId]: ['!dm-before:test.local', oldId, newId], [dave.userId]: ['!unrelated:test.local'] });

    const rules = await rulesOf(alice);
    const roomRules = rules.room.map((r: any) => [r.rule_id, r.actions, r.enabled]);
    expect(roomRules).to.deep.include([newId, ['dont_notify'], true]);
    expect(roomRules).to.deep.include([oldId, ['dont_notify'], true]);
    expect(roomRules.filter((r: any[]) => r[0] === newId)).to.have.length(1);
    expect(rules.room).to.have.length(3); // old, new and elsewhere's: elsewhere's was not copied

    const synced = await sync(alice, aliceBeforeUpgrade);
    expect(roomData(synced, newId, 'm.tag')).to.deep.equal({ tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
    expect(globalData(synced, 'm.direct')[bob.userId]).to.deep.equal(['!dm-before:test.local', oldId, newId]);
    expect(globalData(synced, 'm.push_rules').global.room.map((r: any) => r.rule_id)).to.include(newId);
  });

  it('a member of the old room who joins the new room has their settings there, and the mute applies', async () => {
    // As Synapse: every local member's settings were copied at upgrade time already.
    expect(await directOf(bob)).to.deep.equal({ [alice.userId]: [oldId, newId] });
    const beforeJoin = (await sync(bob)).next_batch;
    await join(bob, newId);

    expect(await tagsOf(bob, newId)).to.deep.equal({ 'm.lowpriority': { order: 0.5 } });
    expect(await directOf(bob)).to.deep.equal({ [alice.userId]: [oldId, newId] });
    const override = (await rulesOf(bob)).override.map((r: any) => [r.rule_id, r.conditions, r.actions, r.enabled]);
    expect(override).to.deep.include([newId, [{ kind: 'event_match', key: 'room_id', pattern: newId }], [], true]);
    expect(override).to.deep.include([oldId, [{ kind: 'event_match', key: 'room_id', pattern: oldId }], [], true]);

    // The /sync that brings the join brings the room's tags with it.
    const synced = await sync(bob, beforeJoin);
    expect(synced.rooms.join[newId], 'the new room in bob’s sync').to.exist;
    expect(roomData(synced, newId, 'm.tag')).to.deep.equal({ tags: { 'm.lowpriority': { order: 0.5 } } });

    // The copied mute silences the new room for bob; dave, with no rule, is notified (control).
    await join(dave, newId);
    await send(alice, newId, 'after the upgrade');
    const counts = async (u: TestUser) => (await sync(u)).rooms.join[newId].unread_notifications.notification_count;
    expect(await counts(dave)).to.equal(1);
    expect(await counts(bob)).to.equal(0);
    await ok(await t.request('POST', `${CS}/rooms/${enc(newId)}/leave`, { token: dave.accessToken, body: {} }), 'leave');
  });

  it('a user who was never in the old room gets nothing copied when joining the new room', async () => {
    await join(carol, newId);
    expect(await tagsOf(carol, newId)).to.deep.equal({});
    expect(await directOf(carol)).to.deep.equal({ [alice.userId]: [oldId] });
    const rules = await rulesOf(carol);
    const aboutNew = [...rules.override, ...rules.room, ...rules.underride].filter(
      (r: any) => r.rule_id === newId || (r.conditions ?? []).some((c: any) => c.pattern === newId),
    );
    expect(aboutNew).to.deep.equal([]);
  });

  it('a user who joins the old room after the upgrade and then follows the tombstone gets their settings copied', async () => {
    await join(dave, oldId);
    await putTag(dave, oldId, 'u.followed');
    await putRule(dave, 'room', oldId, { actions: ['dont_notify'] });
    await join(dave, newId);
    expect(await tagsOf(dave, newId)).to.deep.equal({ 'u.followed': {} });
    expect((await rulesOf(dave)).room.map((r: any) => r.rule_id)).to.include(newId);
  });

  it('joining again does not duplicate anything', async () => {
    await join(bob, newId); // already joined: a no-op
    await ok(await t.request('POST', `${CS}/rooms/${enc(newId)}/leave`, { token: bob.accessToken, body: {} }), 'leave');
    await join(bob, newId);
    expect(await directOf(bob)).to.deep.equal({ [alice.userId]: [oldId, newId] });
    expect((await rulesOf(bob)).override.filter((r: any) => r.rule_id === newId)).to.have.length(1);
    expect(await tagsOf(bob, newId)).to.deep.equal({ 'm.lowpriority': { order: 0.5 } });
  });
});
