/**
 * Authorisation of m.room.member events (spec: Room Version 12, auth rule 5; rule 4 in v6-v11,
 * rule 5 in v1-v5).
 */

import { powerLevelsFromState, userPowerLevel } from '../power-levels.js';
import type { RoomVersion } from '../room-versions.js';
import { stateKeyOf, type AuthResult, type RoomEvent, type StateMap } from '../types.js';
import { ALLOW, domainOf, membershipOf, reject } from './common.js';
import { checkThirdPartyInvite } from './third-party-invite.js';

const AUTHORISING_USER = 'join_authorised_via_users_server';

export function checkMembership(event: RoomEvent, authState: StateMap, create: RoomEvent, version: RoomVersion): AuthResult {
  const membership = event.content['membership'];
  // spec: Room Version 12, auth rule 5.1
  if (event.state_key === undefined || typeof membership !== 'string') {
    return reject('m.room.member needs a state_key and content.membership');
  }

  if (version.restrictedJoinRule && Object.hasOwn(event.content, AUTHORISING_USER)) {
    // spec: Room Version 12, auth rule 5.2.1 (added in v8). Only the presence of the signature is
    // checked here: whether it verifies is the job of the PDU signature checks, which run first.
    const authoriser = event.content[AUTHORISING_USER];
    if (typeof authoriser !== 'string') return reject(`${AUTHORISING_USER} is not a user ID`);
    const sigs = event.signatures?.[domainOf(authoriser)];
    if (!sigs || Object.keys(sigs).length === 0) {
      return reject(`event is not signed by the server of ${AUTHORISING_USER}`);
    }
  }

  switch (membership) {
    case 'join':
      return checkJoin(event, authState, create, version);
    case 'invite':
      // spec: Room Version 12, auth rule 5.4.1
      if (Object.hasOwn(event.content, 'third_party_invite')) return checkThirdPartyInvite(event, authState);
      return checkInvite(event, authState, version);
    case 'leave':
      return checkLeave(event, authState, version);
    case 'ban':
      return checkBan(event, authState, version);
    case 'knock':
      // spec: Room Version 7, auth rule 4.7 (knocking); earlier versions fall to "unknown".
      if (version.knockJoinRule) return checkKnock(event, authState, version);
      break;
  }
  // spec: Room Version 12, auth rule 5.8
  return reject(`unknown membership ${membership}`);
}

/**
 * The room's join rule. Without an m.room.join_rules event (or with no `join_rule` in it) the
 * room is treated as invite-only, as Synapse does: the spec's rule 5.3.7 would refuse every
 * join, which is stricter than what deployed servers do with such (unusual) rooms.
 */
function joinRuleOf(authState: StateMap): string {
  const rule = authState.get(stateKeyOf('m.room.join_rules', ''))?.content['join_rule'];
  return typeof rule === 'string' ? rule : 'invite';
}

function isCreatorForFirstJoin(create: RoomEvent, userId: string, version: RoomVersion): boolean {
  // spec: Room Version 11, auth rule 4.3.1: the creator is the create event's sender from v11 on.
  const creator = version.implicitRoomCreator ? create.sender : create.content['creator'];
  return creator === userId;
}

function checkJoin(event: RoomEvent, authState: StateMap, create: RoomEvent, version: RoomVersion): AuthResult {
  const target = event.state_key!;
  // spec: Room Version 12, auth rule 5.3.1
  if (
    event.prev_events.length === 1 &&
    event.prev_events[0] === create.event_id &&
    isCreatorForFirstJoin(create, target, version)
  ) {
    return ALLOW;
  }
  // spec: Room Version 12, auth rule 5.3.2
  if (event.sender !== target) return reject('cannot join on behalf of another user');
  const current = membershipOf(authState, target);
  // spec: Room Version 12, auth rule 5.3.3
  if (current === 'ban') return reject('sender is banned');

  const joinRule = joinRuleOf(authState);
  // spec: Room Version 12, auth rule 5.3.4 (knock from v7)
  if (joinRule === 'invite' || (version.knockJoinRule && joinRule === 'knock')) {
    if (current === 'invite' || current === 'join') return ALLOW;
    return reject('room is invite-only and the sender is not invited');
  }
  // spec: Room Version 12, auth rule 5.3.5 (restricted from v8, knock_restricted from v10)
  if (
    (version.restrictedJoinRule && joinRule === 'restricted') ||
    (version.knockRestrictedJoinRule && joinRule === 'knock_restricted')
  ) {
    // spec: Room Version 12, auth rule 5.3.5.1
    if (current === 'join' || current === 'invite') return ALLOW;
    // spec: Room Version 12, auth rule 5.3.5.2
    const authoriser = event.content[AUTHORISING_USER];
    if (typeof authoriser !== 'string') return reject('restricted join without an authorising user');
    if (membershipOf(authState, authoriser) !== 'join') return reject('authorising user is not joined');
    const inviteLevel = powerLevelsFromState(authState, version).invite;
    if (userPowerLevel(authoriser, authState, version) < inviteLevel) {
      return reject('authorising user cannot invite');
    }
    // spec: Room Version 12, auth rule 5.3.5.3
    return ALLOW;
  }
  // spec: Room Version 12, auth rule 5.3.6
  if (joinRule === 'public') return ALLOW;
  // spec: Room Version 12, auth rule 5.3.7
  return reject(`join rule ${joinRule} does not allow joining`);
}

function checkInvite(event: RoomEvent, authState: StateMap, version: RoomVersion): AuthResult {
  // spec: Room Version 12, auth rule 5.4.2
  if (membershipOf(authState, event.sender) !== 'join') return reject('sender is not joined');
  // spec: Room Version 12, auth rule 5.4.3
  const targetMembership = membershipOf(authState, event.state_key!);
  if (targetMembership === 'join' || targetMembership === 'ban') {
    return reject(`target is already ${targetMembership === 'join' ? 'joined' : 'banned'}`);
  }
  // spec: Room Version 12, auth rule 5.4.4 and 5.4.5
  const invite = powerLevelsFromState(authState, version).invite;
  if (userPowerLevel(event.sender, authState, version) >= invite) return ALLOW;
  return reject('sender lacks the invite level');
}

function checkLeave(event: RoomEvent, authState: StateMap, version: RoomVersion): AuthResult {
  const target = event.state_key!;
  const senderMembership = membershipOf(authState, event.sender);
  // spec: Room Version 12, auth rule 5.5.1 (knock from v7)
  if (event.sender === target) {
    if (senderMembership === 'invite' || senderMembership === 'join') return ALLOW;
    if (version.knockJoinRule && senderMembership === 'knock') return ALLOW;
    return reject('cannot leave a room one is not in, invited to or knocking on');
  }
  // spec: Room Version 12, auth rule 5.5.2
  if (senderMembership !== 'join') return reject('sender is not joined');
  const levels = powerLevelsFromState(authState, version);
  const senderLevel = userPowerLevel(event.sender, authState, version);
  // spec: Room Version 12, auth rule 5.5.3
  if (membershipOf(authState, target) === 'ban' && senderLevel < levels.ban) {
    return reject('sender lacks the ban level needed to unban');
  }
  // spec: Room Version 12, auth rule 5.5.4 and 5.5.5 (a v12 creator's Infinity is never below anyone)
  if (senderLevel >= levels.kick && userPowerLevel(target, authState, version) < senderLevel) return ALLOW;
  return reject('sender cannot kick the target');
}

function checkBan(event: RoomEvent, authState: StateMap, version: RoomVersion): AuthResult {
  // spec: Room Version 12, auth rule 5.6.1
  if (membershipOf(authState, event.sender) !== 'join') return reject('sender is not joined');
  const levels = powerLevelsFromState(authState, version);
  const senderLevel = userPowerLevel(event.sender, authState, version);
  // spec: Room Version 12, auth rule 5.6.2 and 5.6.3
  if (senderLevel >= levels.ban && userPowerLevel(event.state_key!, authState, version) < senderLevel) return ALLOW;
  return reject('sender cannot ban the target');
}

function checkKnock(event: RoomEvent, authState: StateMap, version: RoomVersion): AuthResult {
  const joinRule = joinRuleOf(authState);
  // spec: Room Version 12, auth rule 5.7.1 (knock_restricted from v10)
  if (!(joinRule === 'knock' || (version.knockRestrictedJoinRule && joinRule === 'knock_restricted'))) {
    return reject(`join rule ${joinRule} does not allow knocking`);
  }
  // spec: Room Version 12, auth rule 5.7.2
  if (event.sender !== event.state_key) return reject('cannot knock on behalf of another user');
  // spec: Room Version 12, auth rule 5.7.3 and 5.7.4
  const current = membershipOf(authState, event.sender);
  if (current === 'ban' || current === 'invite' || current === 'join') {
    return reject(`cannot knock while membership is ${current}`);
  }
  return ALLOW;
}
