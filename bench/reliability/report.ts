// The one table `npm run reliability` ends with, and what each scenario hands back to it.

export interface ScenarioResult {
  readonly scenario: string;
  readonly load: string;
  readonly faults: string;
  readonly badInputs: string;
  /** Accepted events that were not delivered (or not stored); null when the run broke before counting. */
  readonly lost: number | null;
  /** Handler runs beyond one per integration event. */
  readonly duplicates: number | null;
  readonly pass: boolean;
  readonly seconds: number;
  /** Figures and findings printed under the table. */
  readonly notes: readonly string[];
}

const HEADERS = [
  'scenario',
  'load held',
  'faults survived',
  'bad inputs tried',
  'events lost (must be 0)',
  'duplicate handler effects (must be 0)',
  'result',
] as const;

/** A plain-text table (GitHub-markdown compatible), then each scenario's notes. */
export function formatReport(results: readonly ScenarioResult[], totalSeconds: number): string {
  const rows = results.map((r) => [
    r.scenario,
    r.load,
    r.faults,
    r.badInputs,
    r.lost === null ? '?' : String(r.lost),
    r.duplicates === null ? '?' : String(r.duplicates),
    `${r.pass ? 'PASS' : 'FAIL'} (${r.seconds.toFixed(0)} s)`,
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [
    line(HEADERS),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    '',
    `${results.filter((r) => r.pass).length}/${results.length} scenarios passed in ${totalSeconds.toFixed(0)} s`,
  ];
  for (const r of results) {
    if (r.notes.length === 0) continue;
    out.push('', `${r.scenario}:`, ...r.notes.map((n) => `  - ${n}`));
  }
  return out.join('\n');
}

/** `12,345`. */
export function n(value: number): string {
  return value.toLocaleString('en-US');
}
