/** Shared benchmark plumbing: a closed-loop load generator, percentiles, and tables that name the machine. */
import { cpus, totalmem } from 'node:os';

export interface Measurement {
  operations: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Runs `operation` with `concurrency` calls in flight for `durationMs` (after a warm-up) and reports
 * the rate and latency. Every operation does real work; nothing is simulated here.
 */
export async function measure(operation: () => Promise<unknown>, options: { durationMs: number; concurrency: number; warmupMs?: number }): Promise<Measurement> {
  const run = async (durationMs: number, record: boolean) => {
    const latencies: number[] = [];
    const end = performance.now() + durationMs;
    const worker = async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await operation();
        if (record) latencies.push(performance.now() - started);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    return { latencies, seconds: (performance.now() - started) / 1000 };
  };
  await run(options.warmupMs ?? 500, false);
  const { latencies, seconds } = await run(options.durationMs, true);
  latencies.sort((a, b) => a - b);
  return { operations: latencies.length, seconds, perSecond: latencies.length / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
}

/**
 * Measures two operations in alternating rounds and keeps each one's median round, so that a slow
 * moment of the machine (GC, the other core busy) does not land on one side only.
 */
export async function interleaved(
  subject: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  options: { durationMs: number; concurrency: number; rounds: number },
): Promise<[Measurement, Measurement]> {
  const subjects: Measurement[] = [];
  const baselines: Measurement[] = [];
  for (let round = 0; round < options.rounds; round++) {
    baselines.push(await measure(baseline, options));
    subjects.push(await measure(subject, options));
  }
  const median = (ms: Measurement[]) => [...ms].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(ms.length / 2)]!;
  return [median(subjects), median(baselines)];
}

export function machineLine(): string {
  const cpu = cpus();
  return `machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
}

export function table(title: string, headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [`\n${title}`, line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
export const ms = (n: number) => `${n.toFixed(2)} ms`;
export const percent = (n: number) => `${(n * 100).toFixed(0)}%`;

/** The value below which a fraction `p` of sorted samples lie (NaN for none). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}
