import { removePackedProjects } from './packed-package.ts';

// Once per `vitest run`, before any test file: a run id that every worker inherits (through the
// environment), so the packed-package fixture is built at most once per run and shared.
export default function setup() {
  const id = `${process.pid}-${Date.now()}`;
  process.env.HOOKMESH_TEST_RUN = id;
  removePackedProjects(null);
  return () => removePackedProjects(id);
}
