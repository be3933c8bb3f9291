/** matrix-js-sdk clients for tests, quiet and without background sync unless asked. */
import './polyfills.js';
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import type { Logger } from 'matrix-js-sdk/lib/logger.js';

(logger as unknown as { setLevel(level: string, persist?: boolean): void }).setLevel('error', false);

/**
 * The SDK logs every failed optional probe (e.g. MatrixRTC transports) as an error; tests keep
 * their output to the assertions. VECHE_SDK_LOG=1 shows it again.
 */
const noop = () => undefined;
export const quietLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  getChild: () => quietLogger,
} as unknown as Logger;

export function sdkClient(baseUrl: string, user?: { userId: string; accessToken: string; deviceId: string }, extra: Partial<sdk.ICreateClientOpts> = {}): sdk.MatrixClient {
  return sdk.createClient({
    baseUrl,
    userId: user?.userId,
    accessToken: user?.accessToken,
    deviceId: user?.deviceId,
    ...(process.env.VECHE_SDK_LOG ? {} : { logger: quietLogger }),
    ...extra,
  });
}

export { sdk };
