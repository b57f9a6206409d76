import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { loadDevSecrets } from '../../src/runtime/dev-secrets.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hookmesh-dev-secrets-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string) => statSync(path).mode & 0o777;

const VALID = {
  producerToken: 'dev_0123456789abcdef0123456789abcdef0123456789abcdef',
  adminToken: 'dev_admin_0123456789abcdef0123456789abcdef0123456789abcdef',
  currentSigningKey: 'sig_0123456789abcdef0123456789abcdef0123456789abcdef',
  nextSigningKey: 'sig_fedcba9876543210fedcba9876543210fedcba9876543210',
};

describe('loadDevSecrets', () => {
  it('creates a missing file (and its folder) with mode 0600, and reads the same secrets back', () => {
    const path = join(dir, 'data', 'dev-secrets.json');
    const made = loadDevSecrets(path);
    expect(mode(path)).toBe(0o600);
    expect(made.producerToken).toMatch(/^dev_[0-9a-f]{48}$/);
    expect(loadDevSecrets(path)).toEqual(made);
  });

  it('tightens an existing file with group or other permission bits to 0600, keeping its secrets', () => {
    const path = join(dir, 'dev-secrets.json');
    for (const loose of [0o644, 0o640, 0o604, 0o666, 0o660]) {
      writeFileSync(path, JSON.stringify(VALID));
      chmodSync(path, loose);
      expect(loadDevSecrets(path)).toEqual(VALID);
      expect(mode(path), loose.toString(8)).toBe(0o600);
    }
    // Already tight: left as it is.
    chmodSync(path, 0o400);
    expect(loadDevSecrets(path)).toEqual(VALID);
    expect(mode(path)).toBe(0o400);
  });

  it('says it tightened the file, naming the path and modes and nothing secret', () => {
    const path = join(dir, 'dev-secrets.json');
    writeFileSync(path, JSON.stringify(VALID));
    chmodSync(path, 0o644);
    const warnings: { message: string; fields: Record<string, unknown> }[] = [];
    loadDevSecrets(path, { warn: (message, fields) => warnings.push({ message, fields }) });
    expect(warnings).toEqual([
      { message: expect.stringMatching(/tightened/), fields: { path, from: '644', to: '600' } },
    ]);
    for (const secret of Object.values(VALID)) expect(JSON.stringify(warnings)).not.toContain(secret);
    loadDevSecrets(path, { warn: (message, fields) => warnings.push({ message, fields }) });
    expect(warnings).toHaveLength(1);
  });

  it('a corrupt or incomplete file is a ConfigError naming the file, and the file is left alone', () => {
    const path = join(dir, 'dev-secrets.json');
    const cases = [
      '{"producerToken": "dev_',
      '',
      '[]',
      'null',
      JSON.stringify({ ...VALID, adminToken: undefined }),
      JSON.stringify({ ...VALID, currentSigningKey: '' }),
      JSON.stringify({ ...VALID, nextSigningKey: 42 }),
    ];
    for (const text of cases) {
      writeFileSync(path, text, { mode: 0o600 });
      let error: unknown;
      try {
        loadDevSecrets(path);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(path);
      // Never replaced by new tokens behind the operator's back.
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });

  it('never puts a secret in its error', () => {
    const path = join(dir, 'dev-secrets.json');
    writeFileSync(path, JSON.stringify({ ...VALID, adminToken: 7 }), { mode: 0o600 });
    expect(() => loadDevSecrets(path)).toThrow(ConfigError);
    try {
      loadDevSecrets(path);
    } catch (error) {
      for (const secret of Object.values(VALID)) expect((error as Error).message).not.toContain(secret);
    }
  });
});
