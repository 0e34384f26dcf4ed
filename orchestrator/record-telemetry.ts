/**
 * A step's telemetry in a record: every sample counted into a summary (min, max, mean) and into a
 * min/max envelope over time buckets, small enough to plot however many thousand samples a step had.
 * One pass over the samples; nothing sorts.
 */
import type { TelemetryLimit } from './record-schedule.ts';

export interface TelemetrySummary {
  module: string;
  channel: string;
  unit: string;
  samples: number;
  min: number;
  max: number;
  mean: number;
  from: string;
  until: string;
  /** The lowest and highest sample of each time bucket (at most ENVELOPE_BUCKETS), bucket by bucket. */
  envelope: Array<{ at: string; min: number; max: number }>;
  /** The lines to read the channel against, in its unit. */
  limits: TelemetryLimit[];
}

export const ENVELOPE_BUCKETS = 120;

interface Series {
  module: string;
  channel: string;
  unit: string;
  at: number[];
  values: number[];
}

/** Collects one step's samples, channel by channel, in log order. */
export class TelemetryCollector {
  private readonly series = new Map<string, Series>();

  add(module: string, channel: string, unit: string, at: number, value: number): void {
    if (!Number.isFinite(value)) return;
    const key = `${module}\u0000${channel}`;
    let series = this.series.get(key);
    if (!series) {
      series = { module, channel, unit, at: [], values: [] };
      this.series.set(key, series);
    }
    series.at.push(at);
    series.values.push(value);
  }

  summaries(limitsOf: (channel: string, unit: string) => TelemetryLimit[]): TelemetrySummary[] {
    return [...this.series.values()].map((s) => summarise(s, limitsOf(s.channel, s.unit)));
  }
}

function summarise(series: Series, limits: TelemetryLimit[]): TelemetrySummary {
  const { at, values } = series;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const first = at[0]!;
  const last = at.at(-1)!;
  return {
    module: series.module,
    channel: series.channel,
    unit: series.unit,
    samples: values.length,
    min,
    max,
    mean: sum / values.length,
    from: new Date(first).toISOString(),
    until: new Date(last).toISOString(),
    envelope: envelope(at, values, ENVELOPE_BUCKETS),
    limits,
  };
}

/** Min and max per equal time bucket between the first and last sample, each stamped at its middle; few samples stay as they are. */
export function envelope(at: readonly number[], values: readonly number[], buckets: number): Array<{ at: string; min: number; max: number }> {
  if (values.length <= buckets) return values.map((v, i) => ({ at: new Date(at[i]!).toISOString(), min: v, max: v }));
  const first = at[0]!;
  const span = at.at(-1)! - first;
  const count = span > 0 ? buckets : 1;
  const width = span > 0 ? span / count : 1;
  const low = new Array<number>(count).fill(Number.POSITIVE_INFINITY);
  const high = new Array<number>(count).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < values.length; i++) {
    const bucket = Math.min(count - 1, Math.floor((at[i]! - first) / width));
    if (values[i]! < low[bucket]!) low[bucket] = values[i]!;
    if (values[i]! > high[bucket]!) high[bucket] = values[i]!;
  }
  const result: Array<{ at: string; min: number; max: number }> = [];
  for (let b = 0; b < count; b++) {
    if (low[b] === Number.POSITIVE_INFINITY) continue;
    result.push({ at: new Date(span > 0 ? first + (b + 0.5) * width : first).toISOString(), min: low[b]!, max: high[b]! });
  }
  return result;
}
