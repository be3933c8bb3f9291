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
import type { VisibilityService } from './rooms/visibility.js';
import type { RoomReadService } from './rooms/room-reads.js';
import type { RoomPaginationService } from './rooms/pagination.js';
import type { DirectoryService } from './rooms/directory.js';
import type { RoomUpgradeService } from './rooms/upgrade.js';
import type { ReportService } from './rooms/reports.js';
import type { StreamIdGenerator } from '../streams/id-generator.js';
import type { Notifier } from '../streams/notifier.js';
import type { SyncService } from './sync/sync-service.js';
import type { PushRuleService } from './push-rules.js';
import type { SlidingSyncService } from './sliding-sync/sliding-sync.js';
import type { DelayedEventService } from './delayed-events.js';
import type { RelationsService } from './relations.js';
import type { UserDirectoryService } from './user-directory.js';
import type { OpenIdService } from './openid.js';
import type { TypingService } from './typing.js';
import type { ReceiptService } from './receipts.js';
import type { NotificationService } from './push/notifications.js';
import type { E2eeServices } from './e2ee/index.js';
import type { MediaServices } from './media/index.js';
import type { PresenceService } from './presence.js';
import type { ToDeviceService } from './to-device.js';
import type { SpaceService } from './spaces.js';
import type { TagService } from './tags.js';
import type { SearchService } from './search.js';
import type { PusherService } from './push/pushers.js';

export interface RoomServices {
  state: RoomStateService;
  creator: EventCreator;
  create: CreateRoomService;
  membership: MembershipService;
  messages: MessageService;
  aliases: AliasService;
  visibility: VisibilityService;
  reads: RoomReadService;
  pagination: RoomPaginationService;
  directory: DirectoryService;
  upgrade: RoomUpgradeService;
  reports: ReportService;
}

export interface StreamPositions {
  events: StreamIdGenerator;
  accountData: StreamIdGenerator;
  receipts: StreamIdGenerator;
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
  sync: SyncService;
  slidingSync: SlidingSyncService;
  delayedEvents: DelayedEventService;
  relations: RelationsService;
  userDirectory: UserDirectoryService;
  openId: OpenIdService;
  pushRules: PushRuleService;
  typing: TypingService;
  receipts: ReceiptService;
  notifications: NotificationService;
  media: MediaServices;
  presence: PresenceService;
  toDevice: ToDeviceService;
  spaces: SpaceService;
  tags: TagService;
  search: SearchService;
  pushers: PusherService;
  e2ee: E2eeServices;
}
