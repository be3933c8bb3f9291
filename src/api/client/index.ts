/** Every client-server route module, registered in one place. */
import type { ApiRouter } from '../http/router.js';
import type { Services } from '../../services/index.js';
import { registerVersionRoutes } from './versions.js';
import { registerCapabilityRoutes } from './capabilities.js';
import { registerLoginRoutes } from './login.js';
import { registerRegistrationRoutes } from './register.js';
import { registerAccountRoutes } from './account.js';
import { registerDeviceRoutes } from './devices.js';
import { registerProfileRoutes } from './profile.js';
import { registerAccountDataRoutes } from './account-data.js';
import { registerRoomRoutes } from './rooms.js';
import { registerMembershipRoutes } from './membership.js';
import { registerDirectoryRoutes } from './directory.js';
import { registerRoomReadRoutes } from './room-reads.js';
import { registerPublicRoomRoutes } from './public-rooms.js';
import { registerRoomUpgradeRoutes } from './room-upgrade.js';
import { registerReportRoutes } from './reports.js';
import { registerSyncRoutes } from './sync.js';
import { registerPushRuleRoutes } from './push-rules.js';

export function registerClientRoutes(r: ApiRouter, s: Services): void {
  registerVersionRoutes(r, s);
  registerCapabilityRoutes(r, s);
  registerLoginRoutes(r, s);
  registerRegistrationRoutes(r, s);
  registerAccountRoutes(r, s);
  registerDeviceRoutes(r, s);
  registerProfileRoutes(r, s);
  registerAccountDataRoutes(r, s);
  registerRoomRoutes(r, s);
  registerMembershipRoutes(r, s);
  registerDirectoryRoutes(r, s);
  registerRoomReadRoutes(r, s);
  registerPublicRoomRoutes(r, s);
  registerRoomUpgradeRoutes(r, s);
  registerReportRoutes(r, s);
  registerSyncRoutes(r, s);
  registerPushRuleRoutes(r, s);
}
