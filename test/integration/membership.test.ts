/** Room membership (spec: Client-Server API "Room membership"): join, invite, leave, kick, ban, knock, restricted, forget, profiles. */
import { expect } from 'chai';
import type { TestUser } from '../harness.js';
import { sdkClient, sdk } from '../sdk.js';
import { expectMatrixError, rejectionOf, useServer } from './helpers/index.js';
import { CS, enc, membershipOf, roomRowCounts, stateContent, stateEvent } from './helpers/rooms.js';

describe('membership', function () {
  const s = useServer();
  let alice: TestUser; // room creator, PL 100
  let bob: TestUser;
  let carol: TestUser;
  before(async () => {
    alice = await s.t.registerUser(undefined, { displayname: 'Alice' });
    bob = await s.t.registerUser(undefined, { displayname: 'Bob' });
    carol = await s.t.registerUser();
  });
  const client = (u: TestUser) => sdkClient(s.t.baseUrl, u);
  const post = (u: TestUser, path: string, body: unknown = {}) => s.t.request('POST', CS + path, { token: u.accessToken, body });
  const room = (opts: Record<string, unknown> = {}) => client(alice).createRoom(opts).then((r) => r.room_id);

  /** Asserts a refusal that changed nothing in the room tables. */
  async function refusedWithoutWrites(call: () => Promise<{ status: number; body: any; headers: Headers }>, status = 403, errcode = 'M_FORBIDDEN'): Promise<void> {
    const before = await roomRowCounts(s.t);
    expectMatrixError(await call(), status, errcode);
    expect(await roomRowCounts(s.t)).to.deep.equal(before);
  }

  describe('join and invite', () => {
    it('invite → join, with the reason kept in the invite', async () => {
      const roomId = await room();
      await client(alice).invite(roomId, bob.userId, 'come along');
      const invite = await stateEvent(s.t, roomId, 'm.room.member', bob.userId);
      expect(invite.sender).to.equal(alice.userId);
      expect(invite.content).to.deep.equal({ membership: 'invite', displayname: 'Bob', reason: 'come along' });
      await client(bob).joinRoom(roomId);
      expect(await membershipOf(s.t, roomId, bob.userId)).to.equal('join');
      expect((await client(bob).getJoinedRooms()).joined_rooms).to.include(roomId);
    });

    it('anyone may join a public room, by ID or by alias, with a reason', async () => {
      const { room_id: roomId } = await client(alice).createRoom({ preset: sdk.Preset.PublicChat, room_alias_name: 'pub-join' });
      const res = await post(bob, `/join/${enc(`#pub-join:${s.t.config.serverName}`)}`, { reason: 'curious' });
      expect(res.status).to.equal(200);
      expect(res.body.room_id).to.equal(roomId);
      expect((await stateEvent(s.t, roomId, 'm.room.member', bob.userId)).content).to.deep.equal({ membership: 'join', displayname: 'Bob', reason: 'curious' });
      const byId = await post(carol, `/rooms/${enc(roomId)}/join`);
      expect(byId.status).to.equal(200);
      expect(await membershipOf(s.t, roomId, carol.userId)).to.equal('join');
    });

    it('joining an invite-only room uninvited is 403 and stores nothing', async () => {
      const roomId = await room({ preset: sdk.Preset.PrivateChat });
      await refusedWithoutWrites(() => post(bob, `/join/${enc(roomId)}`));
      await refusedWithoutWrites(() => post(bob, `/rooms/${enc(roomId)}/join`));
      expect(await membershipOf(s.t, roomId, bob.userId)).to.equal('leave');
    });

    it('joining an unknown room is 404; an unknown alias is 404; a malformed ID is 400', async () => {
      expectMatrixError(await post(bob, `/join/${enc(`!nope:${s.t.config.serverName}`)}`), 404, 'M_NOT_FOUND');
      expectMatrixError(await post(bob, `/join/${enc(`#nope:${s.t.config.serverName}`)}`), 404, 'M_NOT_FOUND');
      const bad = await post(bob, `/join/${enc('nope')}`);
      expect(bad.status).to.equal(400);
    });

    it('inviting needs the invite level; inviting a joined member is 403', async () => {
      const roomId = await room({ preset: sdk.Preset.PublicChat }); // invite: 50
      await client(bob).joinRoom(roomId);
      await refusedWithoutWrites(() => post(bob, `/rooms/${enc(roomId)}/invite`, { user_id: carol.userId }));
      await refusedWithoutWrites(() => post(alice, `/rooms/${enc(roomId)}/invite`, { user_id: bob.userId }));
      // A non-member cannot invite either.
      await refusedWithoutWrites(() => post(carol, `/rooms/${enc(roomId)}/invite`, { user_id: carol.userId }));
    });
  });

  describe('leave', () => {
    it('leaves a room, with a reason', async () => {
      const roomId = await room({ preset: sdk.Preset.PublicChat });
      await client(bob).joinRoom(roomId);
      const res = await post(bob, `/rooms/${enc(roomId)}/leave`, { reason: 'bye' });
      expect(res.status).to.equal(200);
      const ev = await stateEvent(s.t, roomId, 'm.room.member', bob.userId);
      expect(ev.content).to.deep.equal({ membership: 'leave', reason: 'bye' });
      expect((await client(bob).getJoinedRooms()).joined_rooms).to.not.include(roomId);
    });

    it('rejects an invite by leaving', async () => {
      const roomId = await room();
      await client(alice).invite(roomId, bob.userId);
      await client(bob).leave(roomId);
      const ev = await stateEvent(s.t, roomId, 'm.room.member', bob.userId);
      expect(ev.sender).to.equal(bob.userId);
      expect(ev.content.membership).to.equal('leave');
      // The invite is gone: joining now is refused.
      expectMatrixError(await post(bob, `/rooms/${enc(roomId)}/join`), 403, 'M_FORBIDDEN');
    });
  });

  describe('kick, ban, unban', () => {
    it('a user with kick power kicks, with the reason kept; without it, 403', async () => {
      const roomId = await room({ preset: sdk.Preset.PublicChat });
      await client(bob).joinRoom(roomId);
      await client(carol).joinRoom(roomId);
      await refusedWithoutWrites(() => post(bob, `/rooms/${enc(roomId)}/kick`, { user_id: carol.userId, reason: 'no' }));
      // Nobody kicks someone at or above their own level.
      await refusedWithoutWrites(() => post(bob, `/rooms/${enc(roomId)}/kick`, { user_id: alice.userId }));
      await client(alice).kick(roomId, carol.userId, 'spamming');
      const ev = await stateEvent(s.t, roomId, 'm.room.member', carol.userId);
      expect(ev.sender).to.equal(alice.userId);
      expect(ev.content).to.deep.equal({ membership: 'leave', reason: 'spamming' });
      // A kicked user may rejoin a public room.
      await client(carol).joinRoom(roomId);
    });

    it('ban keeps the banned user out until unbanned', async () => {
      const roomId = await room({ preset: sdk.Preset.PublicChat });
      await client(bob).joinRoom(roomId);
      await refusedWithoutWrites(() => post(carol, `/rooms/${enc(roomId)}/ban`, { user_id: bob.userId }));
      await client(alice).ban(roomId, bob.userId, 'rude');
      expect((await stateEvent(s.t, roomId, 'm.room.member', bob.userId)).content).to.deep.equal({ membership: 'ban', reason: 'rude' });
      await refusedWithoutWrites(() => post(bob, `/rooms/${enc(roomId)}/join`));
      await refusedWithoutWrites(() => post(alice, `/rooms/${enc(roomId)}/invite`, { user_id: bob.userId }));
      expect((await rejectionOf(client(bob).joinRoom(roomId))).errcode).to.equal('M_FORBIDDEN');
      // A ban may come before the user ever joined.
      await client(alice).ban(roomId, carol.userId);
      await refusedWithoutWrites(() => post(carol, `/rooms/${enc(roomId)}/join`));
      // Unban needs the ban level.
      const dave = await s.t.registerUser();
      await client(dave).joinRoom(roomId);
      await refusedWithoutWrites(() => post(dave, `/rooms/${enc(roomId)}/unban`, { user_id: bob.userId }));
      await client(alice).unban(roomId, bob.userId);
      const after = await stateEvent(s.t, roomId, 'm.room.member', bob.userId);
      expect(after.content.membership).to.equal('leave');
      expect(after.sender).to.equal(alice.userId);
      await client(bob).joinRoom(roomId);
      expect(await membershipOf(s.t, roomId, bob.userId)).to.equal('join');
    });
  });

  describe('knock', () => {
    it('knocks when the join rule is knock (v7+), with a reason; the knocker can then be invited in', async () => {
      const roomId = await room({ room_version: '11', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
      const res = await client(bob).knockRoom(roomId, { reason: 'let me in' });
      expect(res.room_id).to.equal(roomId);
      expect((await stateEvent(s.t, roomId, 'm.room.member', bob.userId)).content).to.deep.equal({ membership: 'knock', displayname: 'Bob', reason: 'let me in' });
      // Knocking is not joining.
      await refusedWithoutWrites(() => post(bob, `/rooms/${enc(roomId)}/join`));
      await client(alice).invite(roomId, bob.userId);
      await client(bob).joinRoom(roomId);
      expect(await membershipOf(s.t, roomId, bob.userId)).to.equal('join');
    });

    it('a knock can be withdrawn by leaving', async () => {
      const roomId = await room({ room_version: '10', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
      await client(carol).knockRoom(roomId);
      await client(carol).leave(roomId);
      expect(await membershipOf(s.t, roomId, carol.userId)).to.equal('leave');
    });

    it('knocking on a public or invite-only room is 403', async () => {
      const pub = await room({ preset: sdk.Preset.PublicChat });
      const priv = await room({ preset: sdk.Preset.PrivateChat });
      await refusedWithoutWrites(() => post(bob, `/knock/${enc(pub)}`, { reason: 'x' }));
      await refusedWithoutWrites(() => post(bob, `/knock/${enc(priv)}`));
    });

    it('knocking on a v6 room is 403, even with a knock join rule', async () => {
      const roomId = await room({ room_version: '6', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
      await refusedWithoutWrites(() => post(bob, `/knock/${enc(roomId)}`));
    });

    it('a member or a banned user cannot knock', async () => {
      const roomId = await room({ room_version: '11', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock' } }] });
      await refusedWithoutWrites(() => post(alice, `/knock/${enc(roomId)}`));
      await client(alice).ban(roomId, carol.userId);
      await refusedWithoutWrites(() => post(carol, `/knock/${enc(roomId)}`));
    });
  });

  describe('restricted rooms (v8+)', () => {
    let space: string;
    before(async () => {
      space = (await client(alice).createRoom({ preset: sdk.Preset.PublicChat, creation_content: { type: 'm.space' } })).room_id;
      await client(bob).joinRoom(space);
    });
    const allow = () => [{ type: 'm.room_membership', room_id: space }];

    it('a member of the allowed room joins; a non-member gets 403', async () => {
      const roomId = await room({ room_version: '10', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: allow() } }] });
      await client(bob).joinRoom(roomId);
      const ev = await stateEvent(s.t, roomId, 'm.room.member', bob.userId);
      expect(ev.content.membership).to.equal('join');
      expect(ev.content.join_authorised_via_users_server).to.equal(alice.userId);
      await refusedWithoutWrites(() => post(carol, `/rooms/${enc(roomId)}/join`));
      // Once carol joins the space she may join too.
      await client(carol).joinRoom(space);
      await client(carol).joinRoom(roomId);
      await client(carol).leave(space);
    });

    it('v12: the creator (unlimited power, not in users) authorises a restricted join', async () => {
      // public_chat: invite needs 50, which only the creator has here.
      const roomId = await room({ room_version: '12', preset: sdk.Preset.PublicChat, initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: allow() } }] });
      await client(bob).joinRoom(roomId);
      expect((await stateEvent(s.t, roomId, 'm.room.member', bob.userId)).content.join_authorised_via_users_server).to.equal(alice.userId);
    });

    it('knock_restricted (v10+): space members join, others knock', async () => {
      const dave = await s.t.registerUser();
      const roomId = await room({ room_version: '10', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock_restricted', allow: allow() } }] });
      await client(bob).joinRoom(roomId);
      expect(await membershipOf(s.t, roomId, bob.userId)).to.equal('join');
      await refusedWithoutWrites(() => post(dave, `/rooms/${enc(roomId)}/join`));
      await client(dave).knockRoom(roomId, { reason: 'not in the space' });
      expect(await membershipOf(s.t, roomId, dave.userId)).to.equal('knock');
    });

    it('knock_restricted is unknown to a v9 room', async () => {
      const roomId = await room({ room_version: '9', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'knock_restricted', allow: allow() } }] });
      await refusedWithoutWrites(() => post(bob, `/rooms/${enc(roomId)}/join`));
      await refusedWithoutWrites(() => post(bob, `/knock/${enc(roomId)}`));
    });
  });

  describe('forget', () => {
    it('must leave first; then the room is forgotten', async () => {
      const roomId = await room({ preset: sdk.Preset.PublicChat });
      await client(bob).joinRoom(roomId);
      const refused = await post(bob, `/rooms/${enc(roomId)}/forget`);
      expect(refused.status).to.equal(400);
      await client(bob).leave(roomId);
      await client(bob).forget(roomId);
      const { rows } = await s.t.server.services.storage.db.query('SELECT 1 FROM room_forgotten WHERE user_id = $1 AND room_id = $2', [bob.userId, roomId]);
      expect(rows).to.have.length(1);
      // Joining again un-forgets.
      await client(bob).joinRoom(roomId);
      const again = await s.t.server.services.storage.db.query('SELECT 1 FROM room_forgotten WHERE user_id = $1 AND room_id = $2', [bob.userId, roomId]);
      expect(again.rows).to.have.length(0);
    });
  });

  describe('profiles in member events', () => {
    it('display name and avatar appear in member events; a profile change reaches joined rooms only', async () => {
      const erin = await s.t.registerUser(undefined, { displayname: 'Erin' });
      const e = client(erin);
      await e.setAvatarUrl('mxc://test.local/avatar1');
      const joined = await room({ preset: sdk.Preset.PublicChat });
      const left = await room({ preset: sdk.Preset.PublicChat });
      await e.joinRoom(joined);
      await e.joinRoom(left);
      expect((await stateEvent(s.t, joined, 'm.room.member', erin.userId)).content).to.deep.equal({
        membership: 'join', displayname: 'Erin', avatar_url: 'mxc://test.local/avatar1',
      });
      await e.leave(left);
      const res = await s.t.request('PUT', `${CS}/profile/${enc(erin.userId)}/displayname`, { token: erin.accessToken, body: { displayname: 'Erin Renamed' } });
      expect(res.status).to.equal(200);
      const member = await stateContent(s.t, erin, joined, 'm.room.member', erin.userId);
      expect(member).to.deep.equal({ membership: 'join', displayname: 'Erin Renamed', avatar_url: 'mxc://test.local/avatar1' });
      expect((await stateEvent(s.t, left, 'm.room.member', erin.userId)).content.membership).to.equal('leave');
      // The update replaced the previous member event.
      const ev = await stateEvent(s.t, joined, 'm.room.member', erin.userId);
      const stored = await s.t.server.services.storage.events.getEvent(ev.event_id);
      expect(stored!.unsigned?.prev_content).to.deep.include({ displayname: 'Erin' });
    });
  });

  describe('guests', () => {
    const g = useServer({ allow_guest_access: true });

    it('a guest joins only rooms with guest_access can_join', async () => {
      const host = await g.t.registerUser();
      const reg = await g.t.request('POST', `${CS}/register?kind=guest`, { body: {} });
      expect(reg.status, JSON.stringify(reg.body)).to.equal(200);
      const guest = { userId: reg.body.user_id, accessToken: reg.body.access_token, deviceId: reg.body.device_id, password: '' };
      const hostClient = sdkClient(g.t.baseUrl, host);
      // public_chat sets no guest access (forbidden); private_chat's can_join needs an invite anyway.
      const closed = (await hostClient.createRoom({ preset: sdk.Preset.PublicChat })).room_id;
      const open = (await hostClient.createRoom({
        preset: sdk.Preset.PublicChat,
        initial_state: [{ type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } }],
      })).room_id;
      const before = await roomRowCounts(g.t);
      expectMatrixError(await g.t.request('POST', `${CS}/rooms/${enc(closed)}/join`, { token: guest.accessToken, body: {} }), 403, 'M_FORBIDDEN');
      expect(await roomRowCounts(g.t)).to.deep.equal(before);
      const ok = await g.t.request('POST', `${CS}/rooms/${enc(open)}/join`, { token: guest.accessToken, body: {} });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
      expect(await membershipOf(g.t, open, guest.userId)).to.equal('join');
    });
  });
});
