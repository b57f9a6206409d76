import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installPackedPackage } from '../support/packed-package.ts';

describe('the packed package', () => {
  it('installs into a project without TypeScript and ships dist, migrations and the bin', async () => {
    const project = await installPackedPackage();
    const installed = join(project.dir, 'node_modules', 'hookmesh');
    expect(existsSync(join(installed, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(installed, 'migrations', '0000_init.sql'))).toBe(true);
    expect(existsSync(join(project.dir, 'node_modules', '.bin', 'hookmesh'))).toBe(true);
    expect(existsSync(join(project.dir, 'node_modules', 'typescript'))).toBe(false);
    expect(existsSync(join(project.dir, 'node_modules', 'tsx'))).toBe(false);
  }, 180_000);
});
