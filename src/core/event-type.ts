/** Integration event types: lower-case, dot-separated, ending in a version (`order.created.v1`). */
export const INTEGRATION_TYPE_PATTERN = /^[a-z0-9_]+(\.[a-z0-9_]+)*\.v[0-9]+$/;

/** Subscription patterns: an exact integration type, or `prefix.*` (`order.*`). */
const SUBSCRIPTION_PREFIX_PATTERN = /^[a-z0-9_]+(\.[a-z0-9_]+)*\.\*$/;

/** Domain event types are the producer's names (`OrderCreated`): letters, digits, `.`, `_`, `-`. */
export const DOMAIN_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,199}$/;

export function isIntegrationType(type: string): boolean {
  return INTEGRATION_TYPE_PATTERN.test(type);
}

export function isSubscriptionPattern(pattern: string): boolean {
  return INTEGRATION_TYPE_PATTERN.test(pattern) || SUBSCRIPTION_PREFIX_PATTERN.test(pattern);
}

/**
 * Whether a subscription pattern selects an integration event type.
 * @example matchesPattern('order.*', 'order.created.v1') // true
 */
export function matchesPattern(pattern: string, type: string): boolean {
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}
