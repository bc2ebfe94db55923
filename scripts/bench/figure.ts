// What run.ts needs from each figure's file: a name for --only, a time budget, and a run that gives table rows.
import type { Row } from './report.ts';

export interface FigureContext {
  /** shorter inputs and fewer repetitions (`--quick`) */
  quick: boolean;
  log(message: string): void;
}

export interface Figure {
  name: string;
  /** the run is abandoned (and its processes killed) after this long */
  budgetMs(quick: boolean): number;
  run(ctx: FigureContext): Promise<Row[]>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits;
