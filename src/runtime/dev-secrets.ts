import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../core/errors.ts';

/** Secrets a development mesh makes up once and keeps, so restarts do not change them. */
export interface DevSecrets {
  readonly producerToken: string;
  readonly adminToken: string;
  readonly currentSigningKey: string;
  readonly nextSigningKey: string;
}

const FIELDS = ['producerToken', 'adminToken', 'currentSigningKey', 'nextSigningKey'] as const;

export interface LoadDevSecretsOptions {
  /** Told when a readable-by-others file was tightened to 0600; given the path and modes only. */
  readonly warn?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Loads `path`, creating it (mode 0600) with fresh random secrets the first time. Outside
 * production only: production refuses to start without configured tokens.
 *
 * An existing file readable or writable by group or others is tightened to 0600 first: it holds
 * the admin token and the signing keys. A file that cannot be read as the four secrets is a
 * `ConfigError` naming it — never silently replaced, since new tokens would lock out every client
 * configured with the old ones and hide whatever damaged the file.
 * @example const dev = loadDevSecrets('data/dev-secrets.json', { warn: (m, f) => log('warn', m, f) });
 */
export function loadDevSecrets(path: string, options: LoadDevSecretsOptions = {}): DevSecrets {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw unreadable(path, error);
    const created = create(path);
    if (created) return created;
    // Another process created it between our read and our write: use theirs.
    text = readFileSync(path, 'utf8');
  }
  tighten(path, options.warn);
  return parse(path, text);
}

function create(path: string): DevSecrets | null {
  const secrets: DevSecrets = {
    producerToken: `dev_${randomHex(24)}`,
    adminToken: `dev_admin_${randomHex(24)}`,
    currentSigningKey: `sig_${randomHex(24)}`,
    nextSigningKey: `sig_${randomHex(24)}`,
  };
  mkdirSync(dirname(path), { recursive: true });
  try {
    // `wx`: never overwrite a file that appeared meanwhile.
    writeFileSync(path, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return null;
    throw unreadable(path, error);
  }
  return secrets;
}

function tighten(path: string, warn: LoadDevSecretsOptions['warn']): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  chmodSync(path, 0o600);
  warn?.('dev secrets file was readable by others; tightened its permissions', {
    path,
    from: mode.toString(8),
    to: '600',
  });
}

function parse(path: string, text: string): DevSecrets {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message can quote the text around the error, i.e. a secret: not repeated.
    throw new ConfigError(
      `${path} is not valid JSON; repair it, or delete it to make new development secrets`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(
      `${path} must hold a JSON object; repair it, or delete it to make new development secrets`,
    );
  }
  const record = value as Record<string, unknown>;
  const missing = FIELDS.filter((field) => typeof record[field] !== 'string' || record[field] === '');
  if (missing.length > 0) {
    throw new ConfigError(
      `${path} lacks ${missing.join(', ')} (each a non-empty string); repair it, or delete it to make new development secrets`,
    );
  }
  return {
    producerToken: record.producerToken as string,
    adminToken: record.adminToken as string,
    currentSigningKey: record.currentSigningKey as string,
    nextSigningKey: record.nextSigningKey as string,
  };
}

function unreadable(path: string, error: unknown): ConfigError {
  return new ConfigError(`cannot use ${path}: ${codeOf(error) ?? 'unknown error'}`);
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}
