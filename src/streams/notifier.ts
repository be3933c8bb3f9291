/**
 * The one notifier: services say "stream S advanced, concerning these users/rooms"; /sync, the
 * federation sender and appservice senders wait on it. This in-process transport is what the
 * single-process mode uses; a Redis transport implements the same interface for several processes.
 */
import { EventEmitter } from 'node:events';

export type StreamName =
  | 'events'
  | 'account_data'
  | 'receipts'
  | 'typing'
  | 'presence'
  | 'to_device'
  | 'device_lists'
  | 'push_rules';

export interface StreamNotice {
  stream: StreamName;
  position: number;
  userIds?: string[];
  roomIds?: string[];
}

export interface Notifier {
  notify(notice: StreamNotice): void;
  subscribe(listener: (notice: StreamNotice) => void): () => void;
  close(): Promise<void>;
}

export class InProcessNotifier implements Notifier {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every waiting /sync subscribes; thousands of listeners are expected.
    this.emitter.setMaxListeners(0);
  }

  notify(notice: StreamNotice): void {
    this.emitter.emit('notice', notice);
  }

  subscribe(listener: (notice: StreamNotice) => void): () => void {
    this.emitter.on('notice', listener);
    return () => this.emitter.off('notice', listener);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}
