/** The services the composition root builds and the HTTP layer uses. */
import type { Config } from '../config/index.js';
import type { AuthService } from './auth.js';
import type { AccountService } from './accounts.js';
import type { DeviceService } from './devices.js';
import type { UiaService } from './uia.js';
import type { ProfileService } from './profile.js';
import type { AccountDataService } from './account-data.js';
import type { ServerKeyService } from './server-keys.js';
import type { RateLimiter } from './rate-limiter.js';
import type { Storage } from '../storage/index.js';
import type { RoomStateService } from './rooms/room-state.js';
import type { EventCreator } from './rooms/event-creator.js';
import type { CreateRoomService } from './rooms/create-room.js';
import type { MembershipService } from './rooms/membership.js';
import type { MessageService } from './rooms/messages.js';
import type { AliasService } from './rooms/aliases.js';
import type { StreamIdGenerator } from '../streams/id-generator.js';
import type { Notifier } from '../streams/notifier.js';

export interface RoomServices {
  state: RoomStateService;
  creator: EventCreator;
  create: CreateRoomService;
  membership: MembershipService;
  messages: MessageService;
  aliases: AliasService;
}

export interface StreamPositions {
  events: StreamIdGenerator;
  accountData: StreamIdGenerator;
}

export interface RateLimiters {
  login: RateLimiter;
  loginAccount: RateLimiter;
  loginFailures: RateLimiter;
  registration: RateLimiter;
  message: RateLimiter;
}

export interface Services {
  config: Config;
  storage: Storage;
  auth: AuthService;
  accounts: AccountService;
  devices: DeviceService;
  uia: UiaService;
  profile: ProfileService;
  accountData: AccountDataService;
  serverKeys: ServerKeyService;
  rateLimiters: RateLimiters;
  rooms: RoomServices;
  positions: StreamPositions;
  notifier: Notifier;
}
