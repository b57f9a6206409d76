/** The media type of Prometheus' text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One line of a family: `<name><suffix>{labels} value`. */
export interface MetricSample {
  /** Appended to the family's name: `_bucket`, `_sum`, `_count` for a histogram; none otherwise. */
  readonly suffix?: '_bucket' | '_sum' | '_count';
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric with its help text, its type and every sample of it. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly MetricSample[];
}

/**
 * Renders families in the text format Prometheus scrapes (0.0.4): `# HELP` and `# TYPE` before
 * each family's samples, label values and help escaped, no timestamps (the scrape's time is the
 * sample's).
 * @example toPrometheusText([{ name: 'up', help: 'Up.', type: 'gauge', samples: [{ value: 1 }] }]) // '# HELP up Up.\n# TYPE up gauge\nup 1\n'
 */
export function toPrometheusText(families: readonly MetricFamily[]): string {
  let text = '';
  for (const family of families) {
    text += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`;
    for (const sample of family.samples) {
      text += `${family.name}${sample.suffix ?? ''}${toLabelText(sample.labels)} ${toSampleValue(sample.value)}\n`;
    }
  }
  return text;
}

function toLabelText(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** The format's three escapes in a label value: backslash, double quote, line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** Help text escapes only backslash and line feed (a quote is literal there). */
function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

/** Go's float syntax, which the scraper parses: infinities and NaN are spelled its way. */
export function toSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
