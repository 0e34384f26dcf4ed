import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { buildRecord } from '../../orchestrator/record.ts';
import { recordHtml } from '../../orchestrator/record-html.ts';

describe('the batch record as HTML', () => {
  it('is one self-contained page that escapes every value', () => {
    const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-html-')), 'records.db'));
    const schedule = { id: 'cart', version: '2', contentHash: 'cd'.repeat(32), file: 'cart.yaml', text: '' };
    log.append({ stream: 'P-001', type: 'batch.started', at: Date.UTC(2026, 10, 30, 8), data: { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-<P-001>', bagId: 'BAG-P-001', lane: 'lane-1', layout: { id: 'two-lane', file: 'l.yaml', contentHash: 'ab'.repeat(32) }, schedule } });
    log.append({ stream: 'P-001', type: 'deviation', at: Date.UTC(2026, 10, 30, 9), data: { kind: 'scan-mismatch', message: 'scanned "<script>alert(1)</script>" & more' } });
    log.append({ stream: 'P-001', type: 'batch.completed', at: Date.UTC(2026, 10, 30, 10), data: {} });
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
