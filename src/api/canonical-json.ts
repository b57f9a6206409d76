/**
 * JSON with object keys sorted, so two payloads that mean the same compare equal whatever order
 * their producer wrote the keys in (idempotent replays compare bodies this way).
 * @example toCanonicalJson(JSON.parse('{"b":1,"a":{"__proto__":2}}')) // '{"a":{"__proto__":2},"b":1}'
 */
export function toCanonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    // No prototype: on an ordinary object, assigning `__proto__` calls Object.prototype's setter
    // instead of adding a member, and the member silently drops out of the comparison — two bodies
    // that differ only there would compare equal. JSON.parse makes it an own member; so must we.
    const sorted: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(value).sort())
      sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}
