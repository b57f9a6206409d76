// `npm run reliability` (issue 8, "Reliability figures"): the reliability promises of DESIGN.md
// run against real processes on loopback, ending with one table. `--quick` runs a smaller version
// of each scenario; `--only=1,3` picks scenarios. Exits 1 when any scenario fails.
import { closeAllClusters } from './reliability/cluster.ts';
import { formatReport, type ScenarioResult } from './reliability/report.ts';
import { runDatabaseLock } from './reliability/scenarios/database-lock.ts';
import { runDeadReplay } from './reliability/scenarios/dead-replay.ts';
import { runDispatcherCrashes } from './reliability/scenarios/dispatcher-crashes.ts';
import { runHostileInput } from './reliability/scenarios/hostile-input.ts';
import { runLoadAndKill } from './reliability/scenarios/load-and-kill.ts';
import { runQStashOutage } from './reliability/scenarios/qstash-outage.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .map(Number);

const SCENARIOS: readonly {
  id: number;
  name: string;
  run: (o: { quick: boolean }) => Promise<ScenarioResult>;
}[] = [
  { id: 1, name: 'dispatchers SIGKILLed', run: runDispatcherCrashes },
  { id: 2, name: 'handler down past its retries, replay by filter', run: runDeadReplay },
  { id: 3, name: 'database locked by another writer', run: runDatabaseLock },
  { id: 4, name: 'QStash refusing publishes for 30 simulated minutes', run: runQStashOutage },
  { id: 5, name: '100,000 seeded hostile requests', run: runHostileInput },
  { id: 6, name: 'wrk load, flaky handler, SIGKILL of the mesh', run: runLoadAndKill },
];

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await closeAllClusters();
    process.exit(130);
  });
}

const started = performance.now();
const results: ScenarioResult[] = [];
for (const scenario of SCENARIOS) {
  if (only && !only.includes(scenario.id)) continue;
  console.log(`\n▶ ${scenario.id}. ${scenario.name}${quick ? ' (quick)' : ''}`);
  const t0 = performance.now();
  try {
    const result = await scenario.run({ quick });
    results.push(result);
    console.log(`  ${result.pass ? 'PASS' : 'FAIL'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.log(`  FAIL: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    results.push({
      scenario: `${scenario.id}. ${scenario.name}`,
      load: '—',
      faults: '—',
      badInputs: '—',
      lost: null,
      duplicates: null,
      pass: false,
      seconds: (performance.now() - t0) / 1000,
      notes: [`the scenario broke: ${error instanceof Error ? error.message : String(error)}`],
    });
  }
}
console.log(`\n${formatReport(results, (performance.now() - started) / 1000)}`);
process.exit(results.every((r) => r.pass) && results.length > 0 ? 0 : 1);
