/**
 * Event filter wildcards, shared by the /sync, /messages and /search filters. Pure.
 *
 * spec: Client-Server API §"Filtering": a `*` in types and not_types "matches any sequence of
 * characters". Matched by the two-pointer walk (backing up only to the last `*`), which takes at
 * most pattern length × value length steps. A regular expression with one `.*` per star
 * backtracks exponentially: eighteen stars before a letter held the event loop for 13 s, and
 * each further star doubled it.
 */
export function filterGlobMatches(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
