/**
 * A step's telemetry plot on the record page. A record has dozens of them: drawing them all before the page
 * shows would hold back what a reviewer reads first (review by exception), so the boxes render empty
 * and are drawn after the first paint, in page order, a slice at a time with the browser let in between
 * (to paint, to scroll). The drawing code (plots.ts) is loaded while the record is still being fetched
 * (record.tsx calls loadPlots). Printing draws what is still waiting at once: the printed record has every plot.
 */
import { useEffect, useRef } from 'preact/hooks';
import type { TelemetrySummary } from '../api-types.ts';
import { loadPlots, notDrawn } from './plotting.ts';

/** How long one slice of drawing may keep the browser from painting and answering input. */
const SLICE_MS = 40;

/** The plotting code once loaded, for printing, which cannot wait for it. */
let loaded: Awaited<ReturnType<typeof loadPlots>> | undefined;
/** Boxes waiting for their plot, in the order they joined the page (a Map keeps it). */
const waiting = new Map<HTMLElement, TelemetrySummary>();
let draining = false;

export function TelemetryPlot({ summary }: { summary: TelemetrySummary }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    waiting.set(element, summary);
    void drain();
    // The plot drawn before stays until its successor replaces it: a running batch's record is fetched every second.
    return () => void waiting.delete(element);
  }, [summary]);
  return <div class="plot-box" ref={box} data-channel={`${summary.module} ${summary.channel}`} />;
}

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    loaded = await loadPlots();
    const { telemetrySvg } = loaded;
    // Not before the page is painted: Preact runs effects after a frame, mostly, but not always before its layout.
    await afterPaint();
    while (waiting.size > 0) {
      const until = performance.now() + SLICE_MS;
      for (const [element, summary] of waiting) {
        waiting.delete(element);
        draw(element, () => telemetrySvg(summary));
        if (performance.now() > until) break;
      }
      await yieldToBrowser();
    }
  } catch (error) {
    for (const element of waiting.keys()) element.replaceChildren(notDrawn('The plot', error));
    waiting.clear();
  } finally {
    draining = false;
  }
}

function draw(element: HTMLElement, plot: () => Element): void {
  try {
    element.replaceChildren(plot());
  } catch (error) {
    element.replaceChildren(notDrawn('The plot', error));
  }
}

/** Resolves once the browser has painted what is on the page now: the next frame's callback, then a task after it. */
function afterPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => void yieldToBrowser().then(resolve)));
}

/** A new task (not clamped as nested timers are), so the browser may paint or handle input before it. */
function yieldToBrowser(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

addEventListener('beforeprint', () => {
  if (!loaded) return;
  const { telemetrySvg } = loaded;
  for (const [element, summary] of waiting) draw(element, () => telemetrySvg(summary));
  waiting.clear();
});
