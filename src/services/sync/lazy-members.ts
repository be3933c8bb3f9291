/**
 * Which member events each device has already been sent, so lazy-loaded members go out once
 * (spec: Client-Server API §8.x "Lazy-loading room members"). In memory, like Synapse's: after a
 * restart members are sent again, which clients tolerate.
 */
const MAX_DEVICES = 10_000;

export class LazyMembersCache {
  private readonly devices = new Map<string, Map<string, Map<string, string>>>();

  private forDevice(userId: string, deviceId: string | null): Map<string, Map<string, string>> {
    const key = `${userId}|${deviceId ?? ''}`;
    let d = this.devices.get(key);
    if (!d) {
      if (this.devices.size >= MAX_DEVICES) this.devices.delete(this.devices.keys().next().value!);
      this.devices.set(key, (d = new Map()));
    }
    return d;
  }

  /** An initial sync starts the device afresh. */
  reset(userId: string, deviceId: string | null): void {
    this.devices.delete(`${userId}|${deviceId ?? ''}`);
  }

  /** True if this exact member event was already sent to the device for the room. */
  alreadySent(userId: string, deviceId: string | null, roomId: string, member: string, eventId: string): boolean {
    return this.forDevice(userId, deviceId).get(roomId)?.get(member) === eventId;
  }

  record(userId: string, deviceId: string | null, roomId: string, member: string, eventId: string): void {
    const d = this.forDevice(userId, deviceId);
    let room = d.get(roomId);
    if (!room) d.set(roomId, (room = new Map()));
    room.set(member, eventId);
  }
}
