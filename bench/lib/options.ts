import { spawnSync } from 'node:child_process';

/** A positive integer from the environment, or the fallback when unset. */
export function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** Whether processes can be pinned to cores 0 and 1 (`taskset` present, two cores or more). */
export function canPin(cores: number): boolean {
  if (cores < 2) return false;
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0;
}

/** A non-negative integer from the environment, or the fallback when unset. */
export function nonNegativeInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer >= 0, got ${raw}`);
  return value;
}
