import { ConfigError } from '../core/errors.ts';

/** Everything the mesh reads from its environment, parsed once; the same names on every runtime. */
export interface MeshConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly role: 'all' | 'api' | 'dispatcher';
  readonly databaseUrl: string;
  readonly databaseAuthToken: string | undefined;
  /** `HOOKMESH_SQLITE_THREAD`: where a `file:` database's statements run; unset = the runtime's default. */
  readonly sqliteThread: 'worker' | 'main' | undefined;
  /** `HOOKMESH_SQLITE_SYNC`: how a `file:` database's commits reach the disk; unset = the runtime's default. */
  readonly sqliteSync: 'flush' | 'full' | undefined;
  readonly transport: 'local' | 'qstash';
  readonly producerTokens: readonly { readonly name: string; readonly token: string }[] | null;
  readonly adminToken: string | null;
  /** `HOOKMESH_METRICS_TOKEN`: a bearer token for `GET /metrics` only; null = the admin token. */
  readonly metricsToken: string | null;
  readonly publicUrl: string;
  readonly allowPrivateNetwork: boolean;
  readonly leaseMs: number;
  readonly attemptTimeoutMs: number;
  /** Delivered deliveries and handled inbox entries older than this are purged; 0 keeps them. */
  readonly retentionDays: number;
  readonly qstash: {
    readonly token: string | undefined;
    readonly url: string | undefined;
    readonly currentSigningKey: string | undefined;
    readonly nextSigningKey: string | undefined;
  };
}

/** In production every bearer token is at least this long (DESIGN "Hardening rules"). */
export const MIN_PRODUCTION_TOKEN_LENGTH = 32;

/**
 * Reads the configuration table of DESIGN.md from an env record (`process.env`, `Deno.env`,
 * Worker bindings). Refuses what would run unsafely: in production, missing tokens or any bearer
 * token shorter than 32 characters (guessable, or a placeholder left in). Errors name the
 * variable, never its value.
 * @example const config = readConfig(process.env, { defaultTransport: 'local' });
 */
export function readConfig(
  env: Readonly<Record<string, string | undefined>>,
  defaults: { transport: 'local' | 'qstash' },
): MeshConfig {
  const production = env.NODE_ENV === 'production';
  const port = integer(env, 'PORT', 8787, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const role = oneOf(env, 'HOOKMESH_ROLE', ['all', 'api', 'dispatcher'] as const, 'all');
  const transport = oneOf(env, 'HOOKMESH_TRANSPORT', ['local', 'qstash'] as const, defaults.transport);
  const producerTokens = env.HOOKMESH_PRODUCER_TOKENS
    ? parseProducerTokens(env.HOOKMESH_PRODUCER_TOKENS)
    : null;
  const adminToken = env.HOOKMESH_ADMIN_TOKEN || null;
  const metricsToken = env.HOOKMESH_METRICS_TOKEN || null;
  if (production && (!producerTokens || !adminToken)) {
    throw new ConfigError('NODE_ENV=production requires HOOKMESH_PRODUCER_TOKENS and HOOKMESH_ADMIN_TOKEN');
  }
  if (production) {
    requireStrongToken('HOOKMESH_ADMIN_TOKEN', adminToken);
    for (const [i, p] of (producerTokens ?? []).entries()) {
      requireStrongToken(`HOOKMESH_PRODUCER_TOKENS (entry ${i + 1})`, p.token);
    }
    requireStrongToken('HOOKMESH_METRICS_TOKEN', metricsToken);
  }
  if (adminToken && producerTokens?.some((p) => p.token === adminToken)) {
    throw new ConfigError('HOOKMESH_ADMIN_TOKEN must differ from every producer token');
  }
  const leaseMs = integer(env, 'HOOKMESH_LEASE_MS', 30_000, 1_000, 3_600_000);
  const attemptTimeoutMs = integer(env, 'HOOKMESH_ATTEMPT_TIMEOUT_MS', 15_000, 100, 3_600_000);
  if (attemptTimeoutMs >= leaseMs) {
    throw new ConfigError('HOOKMESH_ATTEMPT_TIMEOUT_MS must be shorter than HOOKMESH_LEASE_MS');
  }
  const allowPrivate = env.HOOKMESH_ALLOW_PRIVATE_NETWORK;
  return {
    production,
    port,
    host,
    role,
    databaseUrl: env.DATABASE_URL || 'file:./data/hookmesh.db',
    databaseAuthToken: env.DATABASE_AUTH_TOKEN || undefined,
    sqliteThread: env.HOOKMESH_SQLITE_THREAD
      ? oneOf(env, 'HOOKMESH_SQLITE_THREAD', ['worker', 'main'] as const, 'worker')
      : undefined,
    sqliteSync: env.HOOKMESH_SQLITE_SYNC
      ? oneOf(env, 'HOOKMESH_SQLITE_SYNC', ['flush', 'full'] as const, 'flush')
      : undefined,
    transport,
    producerTokens,
    adminToken,
    metricsToken,
    publicUrl: (
      env.HOOKMESH_PUBLIC_URL || `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    ).replace(/\/+$/, ''),
    allowPrivateNetwork:
      allowPrivate === undefined || allowPrivate === '' ? !production : allowPrivate === 'true',
    leaseMs,
    attemptTimeoutMs,
    retentionDays: integer(env, 'HOOKMESH_RETENTION_DAYS', 7, 0, 3650),
    qstash: {
      token: env.QSTASH_TOKEN || undefined,
      url: env.QSTASH_URL || undefined,
      currentSigningKey: env.QSTASH_CURRENT_SIGNING_KEY || undefined,
      nextSigningKey: env.QSTASH_NEXT_SIGNING_KEY || undefined,
    },
  };
}

/** A token shorter than the production minimum is refused, by the name of where it came from. */
function requireStrongToken(variable: string, token: string | null): void {
  if (token !== null && token.length < MIN_PRODUCTION_TOKEN_LENGTH) {
    throw new ConfigError(
      `${variable} must be at least ${MIN_PRODUCTION_TOKEN_LENGTH} characters in production (use a random secret, e.g. 32 random bytes as hex)`,
    );
  }
}

function parseProducerTokens(value: string): { name: string; token: string }[] {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(':');
      const name = entry.slice(0, colon);
      const token = entry.slice(colon + 1);
      if (colon < 1 || !/^[A-Za-z0-9._-]{1,64}$/.test(name) || token.length < 16) {
        // The entry itself is a secret: name its position, never its text.
        throw new ConfigError(
          'HOOKMESH_PRODUCER_TOKENS takes name:token pairs (name of letters, digits, . _ -; token of 16+ characters)',
        );
      }
      return { name, token };
    });
  if (entries.length === 0) throw new ConfigError('HOOKMESH_PRODUCER_TOKENS is empty');
  if (new Set(entries.map((e) => e.token)).size !== entries.length) {
    throw new ConfigError('HOOKMESH_PRODUCER_TOKENS holds the same token twice');
  }
  return entries;
}

function integer(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number,
  max: number,
) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function oneOf<const T extends readonly string[]>(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  values: T,
  fallback: T[number],
): T[number] {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!values.includes(raw)) throw new ConfigError(`${name} must be one of ${values.join(', ')}`);
  return raw as T[number];
}
