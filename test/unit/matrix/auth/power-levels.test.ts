import { expect } from 'chai';
import {
  creatorsOf,
  notificationPowerLevel,
  parsePowerLevelValue,
  powerLevelsFromState,
  requiredPowerLevel,
  userPowerLevel,
} from '../../../../src/matrix/power-levels.js';
import { ALICE, BOB, CAROL, TestRoom, version } from './helpers.js';

describe('power-levels', () => {
  it('without a power levels event: creator 100, others 0, spec defaults for the rest', () => {
    const room = new TestRoom('11', { powerLevels: false });
    const levels = powerLevelsFromState(room.state, room.version);
    expect(levels).to.deep.equal({
      users: { [ALICE]: 100 },
      users_default: 0,
      events: {},
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      invite: 0,
      redact: 50,
      notifications: {},
    });
    expect(userPowerLevel(ALICE, room.state, room.version)).to.equal(100);
    expect(userPowerLevel(BOB, room.state, room.version)).to.equal(0);
  });

  it('v10: the default creator is content.creator, v11: the create sender', () => {
    const v10 = new TestRoom('10', { createContent: { creator: BOB }, powerLevels: false });
    expect(userPowerLevel(BOB, v10.state, v10.version)).to.equal(100);
    expect(userPowerLevel(ALICE, v10.state, v10.version)).to.equal(0);
    expect(creatorsOf(v10.state, v10.version)).to.deep.equal([BOB]);
    const v11 = new TestRoom('11', { createContent: { creator: BOB }, powerLevels: false });
    expect(creatorsOf(v11.state, v11.version)).to.deep.equal([ALICE]);
  });

  it('v12: creators (sender + additional_creators) have Infinity, with or without a PL event', () => {
    const none = new TestRoom('12', { createContent: { additional_creators: [CAROL] }, powerLevels: false });
    expect(creatorsOf(none.state, none.version)).to.deep.equal([ALICE, CAROL]);
    expect(userPowerLevel(ALICE, none.state, none.version)).to.equal(Infinity);
    expect(userPowerLevel(CAROL, none.state, none.version)).to.equal(Infinity);
    expect(userPowerLevel(BOB, none.state, none.version)).to.equal(0);
    expect(powerLevelsFromState(none.state, none.version).users).to.deep.equal({});
    const withPl = new TestRoom('12', { powerLevels: { users: { [BOB]: 75 }, users_default: 5 } });
    expect(userPowerLevel(ALICE, withPl.state, withPl.version)).to.equal(Infinity);
    expect(userPowerLevel(BOB, withPl.state, withPl.version)).to.equal(75);
    expect(userPowerLevel(CAROL, withPl.state, withPl.version)).to.equal(5);
  });

  it('v11: the creator is not infinite once a power levels event exists', () => {
    const room = new TestRoom('11', { powerLevels: { users: { [ALICE]: 30 } } });
    expect(userPowerLevel(ALICE, room.state, room.version)).to.equal(30);
  });

  it('string values are read in v9 and ignored (default) in v10', () => {
    const content = { users: { [BOB]: ' 070 ' }, ban: '+20', events: { 'm.room.name': '-5' } };
    const v9 = new TestRoom('9', { powerLevels: content });
    const l9 = powerLevelsFromState(v9.state, v9.version);
    expect([l9.users[BOB], l9.ban, l9.events['m.room.name']]).to.deep.equal([70, 20, -5]);
    const v10 = new TestRoom('10', { powerLevels: content });
    const l10 = powerLevelsFromState(v10.state, v10.version);
    expect([l10.users[BOB], l10.ban, l10.events['m.room.name']]).to.deep.equal([undefined, 50, undefined]);
  });

  it('floats are truncated in v1-v5 only', () => {
    expect(parsePowerLevelValue(50.57, version('5'))).to.equal(50);
    expect(parsePowerLevelValue(50.57, version('6'))).to.equal(undefined);
    expect(parsePowerLevelValue('1.5', version('5'))).to.equal(undefined);
    expect(parsePowerLevelValue('12', version('9'))).to.equal(12);
    expect(parsePowerLevelValue('12', version('10'))).to.equal(undefined);
  });

  it('requiredPowerLevel: events entry, else state_default / events_default', () => {
    const room = new TestRoom('11', { powerLevels: { events: { 'm.room.name': 70 }, state_default: 40, events_default: 10 } });
    const levels = powerLevelsFromState(room.state, room.version);
    expect(requiredPowerLevel(levels, 'm.room.name', true)).to.equal(70);
    expect(requiredPowerLevel(levels, 'm.room.topic', true)).to.equal(40);
    expect(requiredPowerLevel(levels, 'm.room.message', false)).to.equal(10);
  });

  it('notificationPowerLevel: defaults to 50, else the notifications entry', () => {
    const room = new TestRoom('11', { powerLevels: { notifications: { room: 20 } } });
    expect(notificationPowerLevel(powerLevelsFromState(room.state, room.version))).to.equal(20);
    expect(notificationPowerLevel(powerLevelsFromState(room.state, room.version), 'other')).to.equal(50);
    const bare = new TestRoom('11', { powerLevels: false });
    expect(notificationPowerLevel(powerLevelsFromState(bare.state, bare.version))).to.equal(50);
  });
});
