/**
 * A step's telemetry channel as a small inline SVG for the printed record: the min/max envelope of its
 * samples over the step's time, against its limits (dashed: min and max; dash-dot: where recurring or
 * conditional work starts). No script, no font or image fetched; every label escaped.
 */
import { timeOfDay } from '../drivers/clock.ts';
import { html } from './html-text.ts';
import { formatValue } from './quantity-format.ts';
import type { TelemetrySummary } from './record-telemetry.ts';

const WIDTH = 340;
const HEIGHT = 150;
const AREA = { left: 52, right: WIDTH - 44, top: 18, bottom: HEIGHT - 26 };

const LIMIT_STYLE = {
  min: { stroke: '#b00020', dash: '5 3', label: 'min' },
  max: { stroke: '#b00020', dash: '5 3', label: 'max' },
  trigger: { stroke: '#c06000', dash: '6 2 1 2', label: 'trigger' },
} as const;

/** `reference`: the record's first day, so axis times carry a date only when the day differs. */
export function telemetryPlot(summary: TelemetrySummary, reference: number): string {
  const from = Date.parse(summary.from);
  const until = Date.parse(summary.until);
  const values = [summary.min, summary.max, ...summary.limits.map((l) => l.value)];
  let low = Math.min(...values);
  let high = Math.max(...values);
  const pad = high > low ? (high - low) * 0.08 : Math.abs(high) * 0.05 || 1;
  low -= pad;
  high += pad;
  const x = (ms: number) => (until > from ? AREA.left + ((ms - from) / (until - from)) * (AREA.right - AREA.left) : (AREA.left + AREA.right) / 2);
  const y = (v: number) => AREA.bottom - ((v - low) / (high - low)) * (AREA.bottom - AREA.top);
  const n = (v: number) => v.toFixed(1);
  const bare = (v: number) => html(formatValue(v, summary.unit, { bare: true }));
  const parts: string[] = [];
  parts.push(`<title>${html(`${summary.channel} on ${summary.module} (${summary.unit}), ${summary.samples} samples`)}</title>`);
  parts.push(`<rect x="${AREA.left}" y="${AREA.top}" width="${AREA.right - AREA.left}" height="${AREA.bottom - AREA.top}" fill="none" stroke="#999" stroke-width="0.6"/>`);
  // The y axis: the lowest and highest sample, labelled; the unit above it.
  for (const v of [summary.min, summary.max]) {
    parts.push(`<line x1="${AREA.left - 3}" x2="${AREA.left}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="#555" stroke-width="0.6"/>`);
    parts.push(`<text x="${AREA.left - 5}" y="${n(y(v) + 3)}" text-anchor="end">${bare(v)}</text>`);
  }
  parts.push(`<text x="${AREA.left}" y="${AREA.top - 6}" class="unit">${html(summary.unit === '1' ? summary.channel : `${summary.channel} (${summary.unit})`)}</text>`);
  // The x axis: when the step's first and last samples were taken.
  parts.push(`<text x="${AREA.left}" y="${AREA.bottom + 14}">${html(timeOfDay(from, reference))}</text>`);
  if (until > from) parts.push(`<text x="${AREA.right}" y="${AREA.bottom + 14}" text-anchor="end">${html(timeOfDay(until, reference))}</text>`);
  for (const limit of summary.limits) {
    const style = LIMIT_STYLE[limit.kind];
    const at = n(y(limit.value));
    parts.push(`<line x1="${AREA.left}" x2="${AREA.right}" y1="${at}" y2="${at}" stroke="${style.stroke}" stroke-width="1" stroke-dasharray="${style.dash}"/>`);
    parts.push(`<text x="${AREA.right + 3}" y="${n(y(limit.value) + 3)}" fill="${style.stroke}">${style.label} ${bare(limit.value)}</text>`);
  }
  const band = summary.envelope;
  if (band.length === 1) {
    const only = band[0]!;
    const at = n(x(Date.parse(only.at)));
    parts.push(`<line x1="${at}" x2="${at}" y1="${n(y(only.max))}" y2="${n(y(only.min))}" stroke="#1f5fa8" stroke-width="1.5"/>`);
    parts.push(`<circle cx="${at}" cy="${n(y((only.min + only.max) / 2))}" r="2.5" fill="#1f5fa8"/>`);
  } else {
    const top = band.map((b) => `${n(x(Date.parse(b.at)))},${n(y(b.max))}`);
    const bottom = band.map((b) => `${n(x(Date.parse(b.at)))},${n(y(b.min))}`).reverse();
    parts.push(`<polygon points="${[...top, ...bottom].join(' ')}" fill="#1f5fa8" fill-opacity="0.3" stroke="#1f5fa8" stroke-width="0.8" stroke-linejoin="round"/>`);
  }
  return `<svg class="plot" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" font-size="9" font-family="sans-serif">${parts.join('')}</svg>`;
}
