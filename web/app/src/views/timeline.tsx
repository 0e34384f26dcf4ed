/**
 * The workcell's Gantt: per module, a bar per step a batch held it (and line clearances), coloured by
 * batch; zoomed and moved over days with the buttons, each change asking the server for that window.
 * The Gantt is drawn by plots.ts, loaded when it is first drawn (a chunk of its own: web/app/build.ts).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { TimelineResponse } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, Problem } from '../ui.tsx';
import { loadPlots, notDrawn } from './plotting.ts';

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
    let current = true;
    loadPlots().then(
      ({ ganttSvg }) => {
        if (current) element.replaceChildren(ganttSvg(data, from, to, element.clientWidth));
      },
      (error: unknown) => {
        if (current) element.replaceChildren(notDrawn('The timeline', error));
      },
    );
    // The Gantt drawn before stays until the new one replaces it: a live window is fetched again as the log grows.
    return () => {
      current = false;
    };
  }, [data, from, to]);
  return <div class="gantt" ref={box} />;
}
