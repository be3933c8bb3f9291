/**
 * The HTTP side of the Push Gateway API (spec: Push Gateway API, POST /_matrix/push/v1/notify):
 * one request with a timeout, its answer read as delivered (with rejected pushkeys), worth a
 * retry, or failed for good.
 */
import type { PushAction } from '../../matrix/push-rules/index.js';
import type { JsonObject } from '../../matrix/types.js';

export type PostResult = { kind: 'ok'; rejected: string[] } | { kind: 'retry'; reason: string } | { kind: 'fail'; reason: string };

/** spec: "tweaks: A dictionary of customisations made to the way this notification is to be presented. These are added by push rules." */
export function tweaksOf(actions: PushAction[]): JsonObject {
  const tweaks: JsonObject = {};
  for (const a of actions) {
    if (typeof a !== 'object' || a === null || typeof a.set_tweak !== 'string') continue;
    // spec: "highlight ... If a highlight tweak is given with no value, its value is defined to be true."
    tweaks[a.set_tweak] = (a.value === undefined ? (a.set_tweak === 'highlight' ? true : null) : a.value) as JsonObject[string];
  }
  return tweaks;
}

/** POSTs a notification; `requests` holds the in-flight controllers so shutdown can abort them. */
export async function postToGateway(url: unknown, body: JsonObject, timeoutMs: number, requests: Set<AbortController>): Promise<PostResult> {
  if (typeof url !== 'string') return { kind: 'fail', reason: 'no url' };
  const ac = new AbortController();
  requests.add(ac);
  const timeout = setTimeout(() => ac.abort(), timeoutMs);
  timeout.unref();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: ac.signal,
      redirect: 'error',
    });
    const text = await res.text();
    if (res.ok) {
      let rejected: string[] = [];
      try {
        const parsed = JSON.parse(text) as { rejected?: unknown };
        if (Array.isArray(parsed?.rejected)) rejected = parsed.rejected.filter((k): k is string => typeof k === 'string');
      } catch {
        // A 2xx without a JSON body still delivered the notification.
      }
      return { kind: 'ok', rejected };
    }
    const reason = `HTTP ${res.status}`;
    if (res.status >= 500 || res.status === 408 || res.status === 429) return { kind: 'retry', reason };
    return { kind: 'fail', reason };
  } catch (err) {
    return { kind: 'retry', reason: (err as Error).message };
  } finally {
    clearTimeout(timeout);
    requests.delete(ac);
  }
}
