/** matrix-js-sdk clients for tests, quiet and without background sync unless asked. */
import './polyfills.js';
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';

(logger as unknown as { setLevel(level: string, persist?: boolean): void }).setLevel('error', false);

export function sdkClient(baseUrl: string, user?: { userId: string; accessToken: string; deviceId: string }): sdk.MatrixClient {
  return sdk.createClient({
    baseUrl,
    userId: user?.userId,
    accessToken: user?.accessToken,
    deviceId: user?.deviceId,
  });
}

export { sdk };
