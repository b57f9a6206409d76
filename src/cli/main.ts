#!/usr/bin/env node
import { runCli } from './run.ts';

// `hookmesh …`: the package's command line (package.json `bin`).
process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
