import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Secrets a development mesh makes up once and keeps, so restarts do not change them. */
export interface DevSecrets {
  readonly producerToken: string;
  readonly adminToken: string;
  readonly currentSigningKey: string;
  readonly nextSigningKey: string;
}

/**
 * Loads `path`, creating it (mode 0600) with fresh random secrets the first time. Outside
 * production only: production refuses to start without configured tokens.
 */
export function loadDevSecrets(path: string): DevSecrets {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DevSecrets;
  } catch {
    const secrets: DevSecrets = {
      producerToken: `dev_${randomHex(24)}`,
      adminToken: `dev_admin_${randomHex(24)}`,
      currentSigningKey: `sig_${randomHex(24)}`,
      nextSigningKey: `sig_${randomHex(24)}`,
    };
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    return secrets;
  }
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}
