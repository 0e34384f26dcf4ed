/**
 * The workcell's Gantt: per module, a bar per step a batch held it (and line clearances), coloured by
 * batch; zoomed and moved over days with the buttons, each change asking the server for that window.
 */
import * as Plot from '@observablehq/plot';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { TimelineBar, TimelineResponse } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, Problem } from '../ui.tsx';
import { utcTick } from './telemetry-plot.tsx';

const HOUR = 3_600_000;
const SPANS = [{ label: '6 h', ms: 6 * HOUR }, { label: '1 day', ms: 24 * HOUR }, { label: '3 days', ms: 72 * HOUR }, { label: '7 days', ms: 168 * HOUR }, { label: '30 days', ms: 720 * HOUR }];

export function TimelineView() {
  // No window until the first answer: the server's default one (the log's span) sets it.
  const [window, setWindow] = useState<{ from: number; to: number } | null>(null);
  const path = window ? `/api/timeline?from=${Math.round(window.from)}&to=${Math.round(window.to)}` : '/api/timeline';
  const { data, error } = useApi<TimelineResponse>(path, { live: true });
  useEffect(() => {
    if (data && !window) setWindow({ from: data.from, to: data.to });
  }, [data]);
  const shown = window ?? (data ? { from: data.from, to: data.to } : null);
  const span = shown ? shown.to - shown.from : 0;
  const centre = shown ? (shown.from + shown.to) / 2 : 0;
  const zoom = (factor: number) => shown && setWindow({ from: centre - (span * factor) / 2, to: centre + (span * factor) / 2 });
  const pan = (fraction: number) => shown && setWindow({ from: shown.from + span * fraction, to: shown.to + span * fraction });
  return (
    <div class="view timeline-view">
      <h1>Timeline</h1>
      <div class="row toolbar" role="toolbar" aria-label="Zoom">
        <button type="button" onClick={() => pan(-0.5)}>
          ◀ Earlier
        </button>
        <button type="button" onClick={() => zoom(0.5)}>
          Zoom in
        </button>
        <button type="button" onClick={() => zoom(2)}>
          Zoom out
        </button>
        <button type="button" onClick={() => pan(0.5)}>
          Later ▶
        </button>
        {SPANS.map((s) => (
          <button type="button" class={Math.abs(span - s.ms) < 1000 ? 'chosen' : ''} onClick={() => setWindow({ from: (shown?.to ?? Date.now()) - s.ms, to: shown?.to ?? Date.now() })}>
            {s.label}
          </button>
        ))}
        <button type="button" onClick={() => setWindow(null)}>
          Whole log
        </button>
      </div>
      {shown ? (
        <p class="window">
          {new Date(shown.from).toISOString().slice(0, 16).replace('T', ' ')} → {new Date(shown.to).toISOString().slice(0, 16).replace('T', ' ')} UTC
        </p>
      ) : null}
      <Problem error={error} />
      {!data ? <p class="loading">Loading…</p> : data.bars.length === 0 ? <Empty>No module was used in this window.</Empty> : <Gantt data={data} from={shown!.from} to={shown!.to} />}
    </div>
  );
}

function Gantt({ data, from, to }: { data: TimelineResponse; from: number; to: number }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const bars = data.bars.map((b: TimelineBar) => ({ ...b, start: new Date(Math.max(b.start, from)), end: new Date(Math.min(b.end ?? to, to)), label: b.kind === 'clearance' ? `line clearance after ${b.batch}` : `${b.batch} ${b.step}` }));
    const width = Math.max(640, element.clientWidth || 960);
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
    element.replaceChildren(chart);
    return () => element.replaceChildren();
  }, [data, from, to]);
  return <div class="gantt" ref={box} />;
}
