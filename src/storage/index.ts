/** The storage layer as one object the composition root hands to services. */
import type { Database } from './database.js';
import { UserStore } from './users.js';
import { DeviceStore } from './devices.js';
import { AccountDataStore } from './account-data.js';
import { RegistrationStore } from './registration.js';
import { EventStore } from './events.js';
import { StateStore } from './state.js';
import { AliasStore } from './aliases.js';
import { FilterStore } from './filters.js';
import { TimelineStore } from './timeline.js';
import { PushRuleStore } from './push-rules.js';
import { RelationStore } from './relations.js';
import { MembershipStore } from './memberships.js';

export interface Storage {
  db: Database;
  users: UserStore;
  devices: DeviceStore;
  accountData: AccountDataStore;
  registration: RegistrationStore;
  events: EventStore;
  state: StateStore;
  aliases: AliasStore;
  filters: FilterStore;
  timeline: TimelineStore;
  pushRules: PushRuleStore;
  relations: RelationStore;
  memberships: MembershipStore;
}

export function createStorage(db: Database): Storage {
  return {
    db,
    users: new UserStore(db),
    devices: new DeviceStore(db),
    accountData: new AccountDataStore(db),
    registration: new RegistrationStore(db),
    events: new EventStore(db),
    state: new StateStore(db),
    aliases: new AliasStore(db),
    filters: new FilterStore(db),
    timeline: new TimelineStore(db),
    pushRules: new PushRuleStore(db),
    relations: new RelationStore(db),
    memberships: new MembershipStore(db),
  };
}
