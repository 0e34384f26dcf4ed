import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { buildRecord } from '../../orchestrator/record.ts';
import { recordHtml } from '../../orchestrator/record-html.ts';
import { sample } from '../support/entries.ts';
import type { EntryData, EntryType } from '../../orchestrator/entries.ts';

describe('the batch record as HTML', () => {
  it('is one self-contained page that escapes every value', () => {
    const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-html-')), 'records.db'));
    const schedule = { id: 'cart', version: '2', contentHash: 'cd'.repeat(32), file: 'cart.yaml', text: '' };
    log.append({ stream: 'P-001', type: 'batch.started', at: Date.UTC(2026, 10, 30, 8), data: { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-<P-001>', bagId: 'BAG-P-001', lane: 'lane-1', layout: { id: 'two-lane', file: 'l.yaml', contentHash: 'ab'.repeat(32) }, schedule } });
    log.append({ stream: 'P-001', type: 'deviation', at: Date.UTC(2026, 10, 30, 9), data: { kind: 'scan-mismatch', message: 'scanned "<script>alert(1)</script>" & more' } });
    log.append({ stream: 'P-001', type: 'batch.completed', at: Date.UTC(2026, 10, 30, 10), data: sample('batch.completed') });
    const html = recordHtml(buildRecord(log, 'P-001'));
    log.close();
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>Batch record P-001</title>');
    expect(html).toContain('COI-&lt;P-001&gt;');
    expect(html).toContain('scanned &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; &amp; more');
    expect(html).not.toContain('<script');
    expect(html).toContain(`sha256 ${'ab'.repeat(32)}`);
    expect(html).toContain('Not reviewed yet.');
    expect(html).not.toMatch(/<(link|img|iframe)\b|https?:\/\//);
  });
});

describe('the HTML record on paper', () => {
  const T0 = Date.UTC(2026, 10, 30, 8);
  /** A culture step with thousands of glucose samples, one dip below the feed trigger, and the temperature. */
  function cultureRecord() {
    const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-html-')), 'records.db'));
    const file = resolve('schedules/cart-electroporation.yaml');
    const schedule = { id: 'cart-electroporation', version: '1.0.0', contentHash: 'cd'.repeat(32), file, text: readFileSync(file, 'utf8') };
    const add = <T extends EntryType>(at: number, type: T, data: Partial<EntryData<T>> = {}) => log.append({ stream: 'P-001', type, at, data: sample(type, data) });
    add(T0, 'batch.started', { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001', lane: 'lane-1', layout: { id: 'two-lane', file: 'l.yaml' }, schedule });
    add(T0, 'step.started', { step: 'expand', attempt: 1 });
    add(T0, 'module.reserved', { module: 'bio-1', lane: 'lane-1' });
    const samples = [];
    for (let i = 0; i < 5000; i++) {
      const at = T0 + i * 60_000;
      samples.push({ stream: 'P-001', type: 'telemetry' as const, at, data: sample('telemetry', { module: 'bio-1', channel: 'glucose', value: i === 2500 ? 1.2 : 4 - i / 5000, unit: 'g/L' }) });
      samples.push({ stream: 'P-001', type: 'telemetry' as const, at, data: sample('telemetry', { module: 'bio-1', channel: 'temperature', value: 37 + Math.sin(i / 100) / 10, unit: 'degC' }) });
    }
    log.appendAll(samples);
    add(T0 + 5000 * 60_000, 'step.completed', { step: 'expand', attempt: 1, module: 'bio-1', parameters: { duration: 9 }, results: { viability: 90 } });
    const record = buildRecord(log, 'P-001');
    log.close();
    return record;
  }

  it('plots each telemetry channel of a step as inline SVG against its limits, downsampled, with units and times on the axes', () => {
    const record = cultureRecord();
    const glucose = record.steps[0]!.telemetry.find((t) => t.channel === 'glucose')!;
    expect(glucose.samples).toBe(5000);
    expect(glucose.envelope.length).toBeLessThanOrEqual(120);
    expect(Math.min(...glucose.envelope.map((b) => b.min))).toBe(1.2);
    // The feed of the schedule starts when glucose falls below 2 g/L: the line the channel is read against.
    expect(glucose.limits).toEqual([{ value: 2, kind: 'trigger', source: 'glucose-feed when below 2 g/L' }]);
    const page = recordHtml(record);
    const plots = [...page.matchAll(/<svg class="plot"[^>]*>(.*?)<\/svg>/g)].map((m) => m[1]!);
    expect(plots).toHaveLength(2);
    const glucosePlot = plots.find((p) => p.includes('glucose (g/L)'))!;
    expect(glucosePlot).toContain('<polygon points="');
    expect(glucosePlot).toMatch(/<line [^>]*stroke-dasharray="6 2 1 2"\/><text [^>]*>trigger 2<\/text>/);
    expect(glucosePlot).toContain('>08:00 UTC</text>'); // first sample
    expect(glucosePlot).toContain('>12-03 19:19 UTC</text>'); // last sample, on another day
    // The polygon has two points per bucket, not per sample.
    const points = /<polygon points="([^"]+)"/.exec(glucosePlot)![1]!.split(' ');
    expect(points.length).toBe(2 * glucose.envelope.length);
    const temperaturePlot = plots.find((p) => p.includes('temperature (degC)'))!;
    expect(temperaturePlot).not.toContain('stroke-dasharray');
    expect(page).not.toMatch(/<script|<(link|img|iframe)\b|https?:\/\/|url\(/);
  });

  it('lays every table out to the page width, so no column is cut off in print', () => {
    const page = recordHtml(cultureRecord());
    expect(page).toMatch(/@page \{ margin: [^}]+\}/);
    expect(page).toContain('table-layout: fixed');
    expect(page).toMatch(/td \{[^}]*overflow-wrap: anywhere/);
    const tables = [...page.matchAll(/<table>(.*?)<\/table>/g)].map((m) => m[1]!);
    expect(tables.length).toBeGreaterThan(3);
    for (const t of tables) {
      const widths = [...t.matchAll(/<col style="width:(\d+)%">/g)].map((m) => Number(m[1]));
      expect(widths.reduce((a, b) => a + b, 0)).toBe(100);
      const header = /<thead><tr>(.*?)<\/tr><\/thead>/.exec(t);
      const cells = header ? header[1]!.split('<th>').length - 1 : /<tr>(.*?)<\/tr>/.exec(t)![1]!.split('<td>').length - 1;
      expect(cells).toBe(widths.length);
    }
  });
});
