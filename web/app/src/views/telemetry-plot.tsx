/**
 * A step's telemetry channel plotted against its limits with Observable Plot, as SVG: the min/max
 * envelope of the samples over the step's time, the limits as dashed lines labelled with their values.
 * Plot puts a <style> element in its SVG; the page's CSP allows no inline style, so it is taken out before
 * the SVG joins the page and app.css gives the same rules to the `telemetry-plot` class.
 */
import * as Plot from '@observablehq/plot';
import { useEffect, useRef } from 'preact/hooks';
import { formatValue } from '../../../../orchestrator/quantity-format.ts';
import type { TelemetrySummary } from '../api-types.ts';

const LIMIT_COLOUR = { min: '#b00020', max: '#b00020', trigger: '#c06000' } as const;

export function TelemetryPlot({ summary }: { summary: TelemetrySummary }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const svg = telemetrySvg(summary);
    element.replaceChildren(svg);
    return () => element.replaceChildren();
  }, [summary]);
  return <div class="plot-box" ref={box} data-channel={`${summary.module} ${summary.channel}`} />;
}

/** Axis times in UTC as the record prints them: `14:05` within a day, `12-03 14:05` over two, `12-03` beyond. */
export function utcTick(spanMs: number): (at: Date) => string {
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
