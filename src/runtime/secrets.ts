import { ConfigError } from '../core/errors.ts';
import type { MeshConfig } from './config.ts';
import type { DevSecrets } from './dev-secrets.ts';

/** The credentials a mesh runs with, from the environment or, outside production, made up once. */
export interface MeshSecrets {
  readonly producers: readonly { readonly name: string; readonly token: string }[];
  readonly adminToken: string;
  readonly signingKeys: { readonly current: string; readonly next: string | undefined };
  /** Which of them were made up (printed at start so a newcomer can use them). */
  readonly generated: { readonly producer: boolean; readonly admin: boolean; readonly signing: boolean };
}

/**
 * Resolves the credentials; in production every one must be configured.
 * @example const secrets = resolveSecrets(config, config.production ? null : loadDevSecrets(path));
 */
export function resolveSecrets(config: MeshConfig, dev: DevSecrets | null): MeshSecrets {
  const current = config.qstash.currentSigningKey ?? dev?.currentSigningKey;
  const next =
    config.qstash.nextSigningKey ?? (config.qstash.currentSigningKey ? undefined : dev?.nextSigningKey);
  if (!current) {
    throw new ConfigError(
      'QSTASH_CURRENT_SIGNING_KEY is required in production (deliveries are signed with it)',
    );
  }
  const producers = config.producerTokens ?? (dev ? [{ name: 'dev', token: dev.producerToken }] : null);
  const adminToken = config.adminToken ?? dev?.adminToken;
  if (!producers || !adminToken) {
    throw new ConfigError('HOOKMESH_PRODUCER_TOKENS and HOOKMESH_ADMIN_TOKEN are required in production');
  }
  return {
    producers,
    adminToken,
    signingKeys: { current, next },
    generated: {
      producer: config.producerTokens === null,
      admin: config.adminToken === null,
      signing: config.qstash.currentSigningKey === undefined,
    },
  };
}
