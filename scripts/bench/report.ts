// The shape of a benchmark result and its verdict against the target: pure, so the table and the JSON say the
// same thing. A figure gives rows; each row has our number, the baseline measured in the same run, and a target.

export interface Measure {
  value: number;
  unit: string;
}

/** A bound on our value itself (`value`) or on ours ÷ baseline (`ratio`). */
export interface Target {
  of: 'value' | 'ratio';
  /** 'max': ours must be at most `limit`; 'min': at least */
  kind: 'max' | 'min';
  limit: number;
  /** as the issue words it, e.g. "≤ 1 segment + 1 s" */
  text: string;
}

export interface Row {
  /** the figure's name (`--only` takes it) */
  figure: string;
  label: string;
  /** null: not measured; the reason is in `note` */
  ours: Measure | null;
  baseline: (Measure & { name: string }) | null;
  target: Target | null;
  note?: string;
  details?: Record<string, unknown>;
}

export interface Judged extends Row {
  /** ours ÷ baseline */
  ratio: number | null;
  met: boolean | null;
  /** "met", "missed by …", or why there is no verdict */
  verdict: string;
}

export function judge(row: Row): Judged {
  const ratio = row.ours && row.baseline && row.baseline.value > 0 ? row.ours.value / row.baseline.value : null;
  if (!row.target) return { ...row, ratio, met: null, verdict: '—' };
  const subject = row.target.of === 'ratio' ? ratio : (row.ours?.value ?? null);
  if (subject === null) return { ...row, ratio, met: null, verdict: row.ours ? 'no baseline' : 'not measured' };
  const { kind, limit } = row.target;
  const met = kind === 'max' ? subject <= limit : subject >= limit;
  if (met) return { ...row, ratio, met, verdict: 'met' };
  const gap = Math.abs(subject - limit);
  const unit = row.target.of === 'ratio' ? '×' : ` ${row.ours!.unit}`;
  const percent = limit !== 0 ? ` (${Math.round((gap / Math.abs(limit)) * 100)}%)` : '';
  return { ...row, ratio, met, verdict: `missed by ${fmt(gap)}${unit}${percent}` };
}

/** Three significant digits, without exponent noise. */
export function fmt(n: number): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 100) return String(Math.round(n));
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(2);
}

const cell = (m: Measure | null): string => (m ? `${fmt(m.value)} ${m.unit}` : '—');

export function markdownTable(rows: Judged[]): string {
  const head = '| figure | ours | baseline (same run) | ratio | target | verdict |\n| --- | --- | --- | --- | --- | --- |';
  const lines = rows.map((r) => {
    const ours = r.ours ? cell(r.ours) : (r.note ?? '—');
    const base = r.baseline ? `${cell(r.baseline)} (${r.baseline.name})` : '—';
    const ratio = r.ratio === null ? '—' : `${fmt(r.ratio)}×`;
    return `| ${r.label} | ${ours} | ${base} | ${ratio} | ${r.target?.text ?? '—'} | ${r.verdict} |`;
  });
  return [head, ...lines].join('\n');
}

export function notes(rows: Judged[]): string[] {
  return rows.filter((r) => r.note && r.ours).map((r) => `${r.label}: ${r.note}`);
}
