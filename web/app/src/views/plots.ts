/**
 * Everything the app draws with Observable Plot, as SVG: the timeline's Gantt, and a step's telemetry
 * channel against its limits (the min/max envelope of the samples over the step's time, the limits as
 * dashed lines labelled with their values). Loaded with import() only (plotting.ts loadPlots): Plot and
 * d3 are most of the app's code, and the views without plots start without them.
 *
 * The envelope is the server's (orchestrator/record-telemetry.ts): each time bucket's lowest and highest
 * sample, at most 120 buckets however long the step, fewer than the plot has pixels across. The band
 * between them, not a line through bucket means or every nth sample, keeps every excursion beyond a
 * limit on the plot however brief it was: a plot must never look within limits when a sample was not.
 *
 * Plot puts a <style> element in its SVG; the page's CSP allows no inline style, so it is taken out before
 * the SVG joins the page and app.css gives the same rules to the `telemetry-plot` and `gantt-plot` classes.
 */
import * as Plot from '@observablehq/plot';
import { formatValue } from '../../../../orchestrator/quantity-format.ts';
import type { TelemetrySummary, TimelineBar, TimelineResponse } from '../api-types.ts';

const LIMIT_COLOUR = { min: '#b00020', max: '#b00020', trigger: '#c06000' } as const;

export function telemetrySvg(summary: TelemetrySummary): SVGSVGElement | HTMLElement {
  const band = summary.envelope.map((b) => ({ at: new Date(b.at), min: b.min, max: b.max }));
  const values = [summary.min, summary.max, ...summary.limits.map((l) => l.value)];
  const low = Math.min(...values);
  const high = Math.max(...values);
  const pad = high > low ? (high - low) * 0.08 : Math.abs(high) * 0.05 || 1;
  const label = summary.unit === '1' ? summary.channel : `${summary.channel} (${summary.unit})`;
  const chart = Plot.plot({
    className: 'telemetry-plot',
    width: 340,
    height: 170,
    marginLeft: 52,
    marginRight: 70,
    marginTop: 22,
    marginBottom: 28,
    style: null,
    ariaLabel: `${summary.channel} on ${summary.module}: ${summary.samples} samples against ${summary.limits.length} limits`,
    x: { type: 'utc', label: null, ticks: 3, tickFormat: utcTick(Date.parse(summary.until) - Date.parse(summary.from)) },
    y: { domain: [low - pad, high + pad], label, labelAnchor: 'top', ticks: 4, tickFormat: valueTick(low - pad, high + pad, summary.unit) },
    marks: [
      Plot.frame({ stroke: '#999', strokeWidth: 0.6 }),
      band.length === 1
        ? Plot.ruleX(band, { x: 'at', y1: 'min', y2: 'max', stroke: '#1f5fa8', strokeWidth: 2 })
        : Plot.areaY(band, { x: 'at', y1: 'min', y2: 'max', fill: '#1f5fa8', fillOpacity: 0.3, stroke: '#1f5fa8', strokeWidth: 0.8 }),
      band.length === 1 ? Plot.dot(band, { x: 'at', y: (d: { min: number; max: number }) => (d.min + d.max) / 2, fill: '#1f5fa8', r: 2.5 }) : null,
      Plot.ruleY(summary.limits.filter((l) => l.kind !== 'trigger'), { y: 'value', stroke: LIMIT_COLOUR.min, strokeDasharray: '5 3' }),
      Plot.ruleY(summary.limits.filter((l) => l.kind === 'trigger'), { y: 'value', stroke: LIMIT_COLOUR.trigger, strokeDasharray: '6 2 1 2' }),
      Plot.text(summary.limits, { y: 'value', frameAnchor: 'right', dx: 4, textAnchor: 'start', fill: (l: { kind: keyof typeof LIMIT_COLOUR }) => LIMIT_COLOUR[l.kind], text: (l: { kind: string; value: number }) => `${l.kind} ${formatValue(l.value, summary.unit, { bare: true, exact: true })}` }),
    ],
  });
  for (const style of chart.querySelectorAll('style')) style.remove();
  return chart;
}

/** Axis times in UTC as the record prints them: `14:05` within a day, `12-03 14:05` over two, `12-03` beyond. */
function utcTick(spanMs: number): (at: Date) => string {
  const day = 86_400_000;
  if (spanMs > 2 * day) return (at) => at.toISOString().slice(5, 10);
  return spanMs > day / 2 ? (at) => `${at.toISOString().slice(5, 10)} ${at.toISOString().slice(11, 16)}` : (at) => at.toISOString().slice(11, 16);
}

/**
 * Value axis labels as the record rounds values, unless that rounding would give two ticks one label
 * (37.0, 37.0 on a 0.05 degC axis): then as many decimals as the ticks' spacing needs.
 */
function valueTick(low: number, high: number, unit: string): (value: number) => string {
  const step = (high - low) / 4;
  const needed = step > 0 ? Math.max(0, Math.ceil(-Math.log10(step))) : 0;
  const probe = [low, low + step, low + 2 * step].map((v) => formatValue(v, unit, { bare: true }));
  if (new Set(probe).size === probe.length) return (value) => formatValue(value, unit, { bare: true });
  return (value) => value.toFixed(needed);
}

/** The timeline's Gantt of `data` from `from` to `to` (ms), as wide as its box (`clientWidth`), at least 640 px. */
export function ganttSvg(data: TimelineResponse, from: number, to: number, clientWidth: number): SVGSVGElement | HTMLElement {
  const bars = data.bars.map((b: TimelineBar) => ({ ...b, start: new Date(Math.max(b.start, from)), end: new Date(Math.min(b.end ?? to, to)), label: b.kind === 'clearance' ? `line clearance after ${b.batch}` : `${b.batch} ${b.step}` }));
  const width = Math.max(640, clientWidth || 960);
  const pxPerMs = (width - 130) / (to - from);
  // A bar's label only where it fits inside the bar (about 6 px a character at this size).
  const fits = (b: { label: string; start: Date; end: Date }) => (b.end.getTime() - b.start.getTime()) * pxPerMs > b.label.length * 6 + 8;
  const title = (b: { label: string; start: Date; end: Date }) => `${b.label}: ${b.start.toISOString().slice(0, 16).replace('T', ' ')} → ${b.end.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const steps = bars.filter((b) => b.kind !== 'clearance');
  const clearances = bars.filter((b) => b.kind === 'clearance');
  const chart = Plot.plot({
    className: 'gantt-plot',
    width,
    height: 50 + data.modules.length * 30,
    marginLeft: 110,
    marginRight: 20,
    marginBottom: 34,
    style: null,
    x: { type: 'utc', domain: [new Date(from), new Date(to)], label: 'UTC', grid: true, tickFormat: utcTick(to - from) },
    y: { domain: data.modules, label: null },
    color: { type: 'categorical', domain: [...new Set(steps.map((b) => b.batch))].sort(), legend: false },
    marks: [
      Plot.barX(clearances, { y: 'module', x1: 'start', x2: 'end', fill: '#9aa3ae', inset: 2, title }),
      Plot.barX(steps, { y: 'module', x1: 'start', x2: 'end', fill: 'batch', inset: 2, title }),
      Plot.text(bars.filter(fits), { y: 'module', x: 'start', text: 'label', textAnchor: 'start', dx: 4, fill: 'white', fontSize: 10 }),
    ],
  });
  for (const style of chart.querySelectorAll('style')) style.remove();
  return chart;
}
