/**
 * Objects keyed by IDs clients choose: user, device, room, session, key and signer IDs. Such an ID
 * may be "__proto__" or "constructor". On a plain `{}` the first sets the object's prototype
 * (through `??=` it even writes into Object.prototype, for the whole process) and the second reads
 * an inherited function. A dictionary without a prototype has neither: every key is an ordinary
 * own entry, and JSON.stringify writes it like any other.
 */
export function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
