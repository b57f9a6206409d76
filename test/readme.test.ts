import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every snippet a user copies from the README comes from a file a test runs: a code block right
// after `<!-- from: <path> -->` must appear, line for line, in that file.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SNIPPET = /<!-- from: (\S+) -->\s*\n```[a-z]*\n([\s\S]*?)\n```/g;

const normalize = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');

describe('the README', () => {
  const snippets = [...README.matchAll(SNIPPET)].map((m) => ({ path: m[1]!, code: m[2]! }));

  it('shows the two commands', () => {
    expect(README).toContain('npm ci && npm start');
    expect(README).toContain('npm test');
  });

  it('takes its code snippets from tested files', () => {
    expect(snippets.length).toBeGreaterThan(5);
  });

  it.each(snippets.map((s) => [s.path, s] as const))('%s holds its snippet', (_, { path, code }) => {
    const file = normalize(readFileSync(join(ROOT, path), 'utf8'));
    expect(file).toContain(normalize(code));
  });
});
