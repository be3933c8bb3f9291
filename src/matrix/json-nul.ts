/**
 * U+0000 in JSON strings: valid JSON, but PostgreSQL stores no NUL in text or jsonb, so whatever
 * reaches storage or a query with one is the client's error to refuse first. Pure.
 */

/** True if a string anywhere in a parsed JSON value (keys included) holds U+0000; iterative, so any depth is safe. */
export function containsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\0')) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\0')) return true;
        stack.push(child);
      }
    }
  }
  return false;
}
