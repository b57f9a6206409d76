import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { readConfig } from '../../src/runtime/config.ts';

const STRONG_ADMIN = 'admin-0123456789abcdef0123456789abcdef';
const STRONG_PRODUCER = 'producer-0123456789abcdef0123456789ab';
const STRONG_OTHER = 'shipping-0123456789abcdef0123456789ab';
const STRONG_METRICS = 'metrics-0123456789abcdef0123456789abc';

const production = (env: Record<string, string | undefined>) => ({
  NODE_ENV: 'production',
  HOOKMESH_ADMIN_TOKEN: STRONG_ADMIN,
  HOOKMESH_PRODUCER_TOKENS: `billing:${STRONG_PRODUCER},shipping:${STRONG_OTHER}`,
  ...env,
});

function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    readConfig(env, { transport: 'local' });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected readConfig to refuse');
}

describe('readConfig — bearer tokens in production (DESIGN "Hardening rules")', () => {
  it('starts with every token at least 32 characters, and reads HOOKMESH_METRICS_TOKEN', () => {
    const config = readConfig(production({ HOOKMESH_METRICS_TOKEN: STRONG_METRICS }), { transport: 'local' });
    expect(config.adminToken).toBe(STRONG_ADMIN);
    expect(config.producerTokens).toEqual([
      { name: 'billing', token: STRONG_PRODUCER },
      { name: 'shipping', token: STRONG_OTHER },
    ]);
    expect(config.metricsToken).toBe(STRONG_METRICS);
    expect(readConfig(production({}), { transport: 'local' }).metricsToken).toBeNull();
    // Exactly 32 is enough.
    expect(
      readConfig(production({ HOOKMESH_ADMIN_TOKEN: 'a'.repeat(32) }), { transport: 'local' }).adminToken,
    ).toBe('a'.repeat(32));
  });

  it('refuses a short admin token, naming the variable and never the value', () => {
    const weak = 'admin-token-31-characters-long!';
    expect(weak).toHaveLength(31);
    const error = refusal(production({ HOOKMESH_ADMIN_TOKEN: weak }));
    expect(error.message).toMatch(/HOOKMESH_ADMIN_TOKEN/);
    expect(error.message).toMatch(/32/);
    expect(error.message).not.toContain(weak);
    expect(refusal(production({ HOOKMESH_ADMIN_TOKEN: 'admin' })).message).toMatch(/HOOKMESH_ADMIN_TOKEN/);
  });

  it('refuses a short producer token, naming the variable and the entry by position, never the token', () => {
    const weak = 'shipping-token-0123456789';
    const error = refusal(
      production({ HOOKMESH_PRODUCER_TOKENS: `billing:${STRONG_PRODUCER},shipping:${weak}` }),
    );
    expect(error.message).toMatch(/HOOKMESH_PRODUCER_TOKENS/);
    expect(error.message).toMatch(/entry 2/);
    expect(error.message).not.toContain(weak);
  });

  it('refuses a short metrics token when one is set', () => {
    const weak = 'metrics-token-0123456789';
    const error = refusal(production({ HOOKMESH_METRICS_TOKEN: weak }));
    expect(error.message).toMatch(/HOOKMESH_METRICS_TOKEN/);
    expect(error.message).not.toContain(weak);
  });

  it('still requires the admin and producer tokens', () => {
    expect(refusal(production({ HOOKMESH_ADMIN_TOKEN: undefined })).message).toMatch(/HOOKMESH_ADMIN_TOKEN/);
    expect(refusal(production({ HOOKMESH_PRODUCER_TOKENS: '' })).message).toMatch(/HOOKMESH_PRODUCER_TOKENS/);
  });

  it('outside production the existing rules stay: 16-character producer tokens and any admin token', () => {
    const config = readConfig(
      {
        HOOKMESH_ADMIN_TOKEN: 'admin',
        HOOKMESH_PRODUCER_TOKENS: 'billing:0123456789abcdef',
        HOOKMESH_METRICS_TOKEN: 'scrape',
      },
      { transport: 'local' },
    );
    expect(config.adminToken).toBe('admin');
    expect(config.metricsToken).toBe('scrape');
    expect(() => readConfig({ HOOKMESH_PRODUCER_TOKENS: 'billing:short' }, { transport: 'local' })).toThrow(
      ConfigError,
    );
  });
});

describe('readConfig — the SQLite settings, each one of a few words', () => {
  it.each([
    { name: 'HOOKMESH_SQLITE_SYNC', field: 'sqliteSync', values: ['flush', 'full'], wrong: 'normal' },
    { name: 'HOOKMESH_SQLITE_THREAD', field: 'sqliteThread', values: ['worker', 'main'], wrong: 'thread' },
  ] as const)(
    "$name: the runtime's default unless set, and nothing but $values",
    ({ name, field, values, wrong }) => {
      const read = (value: string | undefined) =>
        readConfig({ [name]: value }, { transport: 'local' })[field];
      expect(read(undefined)).toBeUndefined();
      expect(read('')).toBeUndefined();
      for (const value of values) expect(read(value)).toBe(value);
      expect(refusal({ [name]: wrong }).message).toBe(`${name} must be one of ${values.join(', ')}`);
    },
  );
});
