/**
 * The batch record as one self-contained HTML page, for reviewers who read in a browser and for
 * printing (print styles included, no scripts, nothing fetched). Same content as the terminal record;
 * every value is escaped, so text from devices or operators cannot change the page.
 */
import { round, type BatchRecord } from './record.ts';
import type { Signature } from './signatures.ts';

const STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 2em; color: #111; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
.fail, .open { color: #a00; font-weight: 600; }
.pass { color: #060; }
.signature { font-size: 0.9em; color: #333; }
.hash { font-family: ui-monospace, monospace; font-size: 0.85em; word-break: break-all; }
@media print { body { margin: 1cm; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
`;

function escape(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function table(headers: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p>${escape(empty)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

function values(record: Record<string, unknown> | undefined): string {
  if (!record) return '';
  return Object.entries(record)
    .map(([k, v]) => `${escape(k)}=${escape(typeof v === 'object' ? JSON.stringify(v) : v)}`)
    .join('<br>');
}

function signatureHtml(signature: Signature | null): string {
  if (!signature) return '<span class="signature open">not signed</span>';
  return `<span class="signature">Signed by <b>${escape(signature.printedName)}</b> (${escape(signature.user)}) at ${escape(signature.signedAt)}; meaning: ${escape(signature.meaning)}; content <span class="hash">sha256 ${escape(signature.contentHash)}</span></span>`;
}

export function recordHtml(record: BatchRecord): string {
  const id = record.identity;
  const review = record.review;
  const sections = [
    `<h1>Batch record ${escape(record.batchId)} <small>(${escape(record.status)})</small></h1>`,
    table(
      ['patient', 'chain of identity', 'starting material', 'lane', 'layout', 'schedule'],
      [[escape(id.patient), escape(id.chainOfIdentity), escape(id.bagId), escape(id.lane), `${escape(id.layout.id)}${id.layout.contentHash ? `<br><span class="hash">sha256 ${escape(id.layout.contentHash)}</span>` : ''}`, `${escape(id.schedule.id)} v${escape(id.schedule.version)}<br><span class="hash">sha256 ${escape(id.schedule.contentHash)}</span>`]],
      '',
    ),
    `<h2>QA review</h2>`,
    review ? `<p><b class="${review.decision === 'approved' ? 'pass' : 'fail'}">${escape(review.decision.toUpperCase())}</b>: ${escape(review.reason)}<br>${signatureHtml(review.signature)}<br>over chain head <span class="hash">${escape(review.reviewedHead)}</span></p>` : '<p class="open">Not reviewed yet.</p>',
    `<h2>Review by exception</h2>`,
    table(['at', 'deviation', 'message'], record.deviations.map((d) => [escape(d.at), `<span class="fail">${escape(d.kind)}</span>`, escape(d.message)]), 'No deviations.'),
    table(['at', 'hold at step', 'kind', 'message', 'state'], record.holds.map((h) => [escape(h.at), escape(h.step), escape(h.kind), escape(h.message), h.resolved ? 'answered' : '<span class="open">OPEN</span>']), 'No holds.'),
    table(
      ['at', 'operator action', 'reason', 'signature'],
      [
        ...record.operatorActions.map((a) => [escape(a.at), `${escape(a.action)} ${escape(a.step)}`, escape(a.reason), signatureHtml(a.signature)]),
        ...record.removals.map((r) => [escape(r.at), `removed the material from ${escape(r.from)} by hand`, escape(r.reason), signatureHtml(r.signature)]),
      ],
      'No operator actions.',
    ),
    `<h2>Steps</h2>`,
    table(
      ['step', 'outcome', 'module', 'started', 'ended', 'parameters', 'results', 'controls', 'telemetry (min / max / mean)'],
      record.steps.map((s) => [
        escape(s.step),
        `${escape(s.outcome)}${s.attempts > 1 ? ` (${s.attempts} attempts)` : ''}${s.skippedBecause ? `<br>${escape(s.skippedBecause)}` : ''}`,
        escape(s.module ?? '-'),
        escape(s.started ?? ''),
        escape(s.ended ?? ''),
        values(s.parameters),
        values(s.results),
        s.controls.map((c) => `<span class="${c.pass ? 'pass' : 'fail'}">${escape(c.result)} ${escape(round(c.value))} ${escape(c.unit)}${c.min !== null ? ` ≥ ${escape(c.min)}` : ''}${c.max !== null ? ` ≤ ${escape(c.max)}` : ''}: ${c.pass ? 'pass' : 'FAIL'}</span>`).join('<br>'),
        s.telemetry.map((t) => `${escape(t.module)} ${escape(t.channel)}: ${escape(round(t.min))} / ${escape(round(t.max))} / ${escape(round(t.mean))} ${escape(t.unit)} (${t.samples})`).join('<br>'),
      ]),
      'No step has started.',
    ),
    `<h2>Chain of custody</h2>`,
    table(['at', 'arm', 'from', 'to', 'scanned at pick / place'], record.transfers.map((t) => [escape(t.at), escape(t.arm), escape(t.from), escape(t.to), `${escape(t.scannedAtPick)} / ${escape(t.scannedAtPlace)}`]), 'No transfers.'),
    table(['at', 'line clearance of', 'procedure', 'after batch'], record.lineClearances.map((c) => [escape(c.at), escape(c.module), escape(c.procedure ?? 'no SOP named'), escape(c.previousBatch ?? '-')]), 'No line clearances before this batch.'),
    `<h2>Environmental monitoring</h2>`,
    table(
      ['plate', 'location', 'zone (grade)', 'exposure', 'colonies', 'limit', 'result'],
      record.environmentalMonitoring.map((em) => {
        const exposure = em.exposure as { from: string; until: string } | undefined;
        return [escape(em.plateId), escape(em.location), `${escape(em.zone)} (${escape(em.grade)})`, `${escape(exposure?.from)} → ${escape(exposure?.until)}`, `${escape(em.colonies)} CFU`, escape(em.limit), em.withinLimit ? '<span class="pass">within limit</span>' : '<span class="fail">OVER LIMIT</span>'];
      }),
      'No settle plate read for this batch yet.',
    ),
    `<h2>Alarms</h2>`,
    table(['at', 'kind', 'message'], record.alarms.map((a) => [escape(a.at), escape(a.kind), escape(a.message)]), 'No alarms.'),
    `<h2>Integrity</h2>`,
    `<p>${record.entries} log entries, hash chain <span class="hash">${escape(record.firstHash)}</span> → <span class="hash">${escape(record.lastHash)}</span>. Check with <code>workcell verify</code>.</p>`,
  ];
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Batch record ${escape(record.batchId)}</title><style>${STYLE}</style></head><body>\n${sections.join('\n')}\n</body></html>\n`;
}

