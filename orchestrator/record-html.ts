/**
 * The batch record as one self-contained HTML page, for reviewers who read in a browser and for
 * printing on A4 or Letter (print styles included, no scripts, nothing fetched). Same content as the
 * terminal record, with each step's telemetry plotted against its limits. Every value goes through
 * `html`, so text from devices or operators cannot change the page.
 */
import { timeOfDay } from '../drivers/clock.ts';
import { html } from './html-text.ts';
import { formatLimits, formatValue } from './quantity-format.ts';
import type { BatchRecord, ControlOutcome, StepRecord } from './record-build.ts';
import { describeOutcome } from './record-outcome.ts';
import { telemetryPlot } from './record-plot.ts';
import type { Signature } from './signatures.ts';

// Fixed table layout and breaks anywhere in long words: a column never runs off the printed page.
const STYLE = `
@page { margin: 14mm 12mm; }
body { font: 13px/1.4 system-ui, sans-serif; margin: 2em; color: #111; max-width: 60em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #999; }
h3 { font-size: 1em; margin: 1.2em 0 0.3em; }
h3 small { font-weight: normal; color: #333; }
/* Collapsed borders lie half outside the table: one pixel short of the width keeps the right one on the page. */
table { border-collapse: collapse; width: calc(100% - 1px); margin: 0.4em 0; table-layout: fixed; }
th, td { border: 1px solid #bbb; padding: 3px 5px; text-align: left; vertical-align: top; overflow-wrap: anywhere; word-break: break-word; }
th { background: #eee; }
thead { display: table-header-group; }
.fail, .open { color: #a00; font-weight: 600; }
.pass { color: #060; }
.signature { font-size: 0.9em; color: #333; }
.hash { font-family: ui-monospace, monospace; font-size: 0.85em; word-break: break-all; }
.plots { display: flex; flex-wrap: wrap; gap: 6px 12px; }
.plot { width: 340px; max-width: 100%; height: auto; }
.plot text { fill: #222; }
.plot text.unit { font-weight: 600; }
@media print {
  body { margin: 0; font-size: 10pt; max-width: none; }
  h2, h3 { break-after: avoid; }
  tr, .plot { break-inside: avoid; }
  .plot { width: 48%; }
}
`;

function table(headers: string[], widths: number[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p>${html(empty)}</p>`;
  const columns = `<colgroup>${widths.map((w) => `<col style="width:${w}%">`).join('')}</colgroup>`;
  const head = headers.some(Boolean) ? `<thead><tr>${headers.map((h) => `<th>${html(h)}</th>`).join('')}</tr></thead>` : '';
  return `<table>${columns}${head}<tbody>${rows.map((r) => `<tr>${r.map((cell) => `<td>${cell}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** One `name = value unit` per line. */
function values(items: Record<string, unknown> | undefined, units: Record<string, string>): string {
  if (!items) return '';
  return Object.entries(items).map(([name, value]) => `${html(name)} = ${html(formatValue(value, units[name]))}`).join('<br>');
}

function control(c: ControlOutcome): string {
  const limits = formatLimits(c.min, c.max, c.unit);
  return `<span class="${c.pass ? 'pass' : 'fail'}">${html(c.result)} ${html(formatValue(c.value, c.unit))}${limits ? ` (${html(limits)})` : ''}: ${c.pass ? 'pass' : 'FAIL'}</span>`;
}

function signatureHtml(signature: Signature | null): string {
  if (!signature) return '<span class="signature open">not signed</span>';
  return `<span class="signature">Signed by <b>${html(signature.printedName)}</b> (${html(signature.user)}) at ${html(signature.signedAt)}; meaning: ${html(signature.meaning)}; content <span class="hash">sha256 ${html(signature.contentHash)}</span></span>`;
}

function where(item: { module?: string; step?: string; code?: string }): string {
  return [item.module, item.step && `at ${item.step}`, item.code && `code ${item.code}`].filter(Boolean).map(html).join(', ');
}

export function recordHtml(record: BatchRecord): string {
  const reference = Date.parse(record.started);
  const time = (at: string | undefined) => (at ? html(timeOfDay(Date.parse(at), reference)) : '');
  const id = record.identity;
  const review = record.review;
  const departed = record.steps.filter((s) => s.outcome === 'failed-controls-skipped' || s.outcome === 'incomplete-skipped');
  const sections = [
    `<h1>Batch record ${html(record.batchId)} <small>(${html(record.status)})</small></h1>`,
    `<p>Started ${html(record.started.slice(0, 10))} ${time(record.started)}. Times are UTC, with the date (MM-DD) when on another day.</p>`,
    table(
      ['', ''],
      [22, 78],
      [
        ['patient', html(id.patient)],
        ['chain of identity', html(id.chainOfIdentity)],
        ['starting material', html(id.bagId)],
        ['lane', html(id.lane)],
        ['layout', `${html(id.layout.id)}${id.layout.contentHash ? ` <span class="hash">sha256 ${html(id.layout.contentHash)}</span>` : ''}`],
        ['schedule', `${html(id.schedule.id)} v${html(id.schedule.version)} <span class="hash">sha256 ${html(id.schedule.contentHash)}</span>`],
        ...(id.request ? [['asked for by', `${signatureHtml(id.request.signature)}<br>at ${time(new Date(id.request.at).toISOString())}: ${html(id.request.reason)}; the signed request at log position ${id.request.seq} <span class="hash">sha256 ${html(id.request.hash)}</span>`] as [string, string]] : []),
        ...(id.simulatedModules?.length ? [['simulated modules', `<b>${html(id.simulatedModules.join(', '))}</b> reported simulation mode`] as [string, string]] : []),
      ],
      '',
    ),
    `<h2>QA review</h2>`,
    review ? `<p><b class="${review.decision === 'approved' ? 'pass' : 'fail'}">${html(review.decision.toUpperCase())}</b>: ${html(review.reason)}<br>${signatureHtml(review.signature)}<br>over chain head <span class="hash">${html(review.reviewedHead)}</span></p>` : '<p class="open">Not reviewed yet.</p>',
    `<h2>Review by exception</h2>`,
    table(['at', 'deviation', 'where', 'message'], [13, 17, 20, 50], record.deviations.map((d) => [time(d.at), `<span class="fail">${html(d.kind)}</span>`, where(d), html(d.message)]), 'No deviations.'),
    table(['at', 'hold at step', 'kind', 'message', 'state'], [13, 15, 15, 45, 12], record.holds.map((h) => [time(h.at), html(h.step), html(h.kind), html(h.message), h.resolved ? 'answered' : '<span class="open">OPEN</span>']), 'No holds.'),
    table(
      ['at', 'operator action', 'reason', 'signature'],
      [13, 22, 25, 40],
      [
        ...record.operatorActions.map((a) => [time(a.at), `${html(a.action)} ${html(a.step)}`, html(a.reason), signatureHtml(a.signature)]),
        ...record.removals.map((r) => [time(r.at), `removed the material from ${html(r.from)} by hand`, html(r.reason), signatureHtml(r.signature)]),
      ],
      'No operator actions.',
    ),
    departed.length > 0 ? table(['step', 'continued without meeting its controls', 'failed controls'], [15, 50, 35], departed.map((s) => [html(s.step), `<span class="fail">${html(describeOutcome(s))}</span>`, (s.continued?.failedControls ?? []).map((c) => control({ ...c, at: '', pass: false })).join('<br>')]), '') : '',
    record.interruptions.length > 0 ? table(['at', 'run', 'message'], [13, 27, 60], record.interruptions.map((i) => [time(i.at), `<span class="fail">${i.event === 'interrupted' ? 'interrupted' : `resumed${i.afterCrash ? ' after a crash' : ''}`}</span>${i.runId !== null ? ` (run ${html(i.runId)})` : ''}`, html(i.message)]), '') : '',
    record.reconciliations.length > 0 ? table(['at', 'module reconciled', 'believed / actual', 'action', 'message'], [13, 14, 18, 17, 38], record.reconciliations.map((r) => [time(r.at), html(r.module), `${html(r.believed)} / ${html(r.actual)}`, html(r.action), html(r.message)]), '') : '',
    table(['at', 'alarm', 'where', 'message'], [13, 17, 20, 50], record.alarms.map((a) => [time(a.at), html(a.kind), where(a), html(a.message)]), 'No alarms.'),
    record.unrecognised.length > 0 ? table(['at', 'entry of unknown type', 'data'], [13, 22, 65], record.unrecognised.map((u) => [time(u.at), `<span class="fail">${html(u.type)}</span>`, html(u.summary)]), '') : '',
    record.invalid.length > 0 ? table(['at', 'entry not matching its schema, left out', 'problem'], [13, 32, 55], record.invalid.map((i) => [time(i.at), `<span class="fail">entry ${i.streamSeq}, ${html(i.type)}</span>`, html(i.problem)]), '') : '',
    `<h2>Steps</h2>`,
    record.steps.length === 0 ? '<p>No step has started.</p>' : record.steps.map((s) => stepHtml(s, time, reference)).join('\n'),
    `<h2>Chain of custody</h2>`,
    table(['at', 'arm', 'from', 'to', 'scanned at pick / place'], [13, 12, 20, 20, 35], record.transfers.map((t) => [time(t.at), html(t.arm), html(t.from), html(t.to), `${html(t.scannedAtPick)} / ${html(t.scannedAtPlace)}`]), 'No transfers.'),
    table(['at', 'line clearance of', 'procedure', 'after batch'], [13, 25, 37, 25], record.lineClearances.map((c) => [time(c.at), html(c.module), html(c.procedure ?? 'no SOP named'), html(c.previousBatch ?? '-')]), 'No line clearances before this batch.'),
    `<h2>Environmental monitoring</h2>`,
    table(
      ['plate', 'location', 'zone (grade)', 'exposure', 'colonies', 'limit', 'result'],
      [12, 18, 16, 20, 10, 10, 14],
      record.environmentalMonitoring.map((em) => {
        const { exposure } = em;
        return [html(em.plateId), html(em.location), `${html(em.zone)} (${html(em.grade)})`, `${time(exposure?.from)} → ${time(exposure?.until)}`, html(formatValue(em.colonies, 'CFU')), html(formatValue(em.limit, 'CFU')), em.withinLimit ? '<span class="pass">within limit</span>' : '<span class="fail">OVER LIMIT</span>'];
      }),
      'No settle plate read for this batch yet.',
    ),
    `<h2>Timeline</h2>`,
    table(['at', 'what happened'], [15, 85], record.timeline.map((e) => [time(e.at), html(e.summary)]), 'Nothing recorded yet.'),
    `<h2>Integrity</h2>`,
    `<p>${record.entries} log entries, hash chain <span class="hash">${html(record.firstHash)}</span> → <span class="hash">${html(record.lastHash)}</span>. Check with <code>workcell verify</code>.</p>`,
  ];
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Batch record ${html(record.batchId)}</title><style>${STYLE}</style></head><body>\n${sections.filter(Boolean).join('\n')}\n</body></html>\n`;
}

function stepHtml(step: StepRecord, time: (at: string | undefined) => string, reference: number): string {
  const outcome = describeOutcome(step);
  const failed = step.outcome === 'failed' || step.outcome === 'failed-controls-skipped' || step.outcome === 'incomplete-skipped';
  const heading = `<h3>${html(step.step)}${step.name ? ` (${html(step.name)})` : ''} <small>${step.module ? `on ${html(step.module)}, ` : ''}${time(step.started)}${step.ended ? ` → ${time(step.ended)}` : ''}: <span class="${failed ? 'fail' : ''}">${html(outcome)}</span></small></h3>`;
  const parts = [heading];
  if (step.parameters || step.results || step.controls.length > 0) {
    parts.push(table(['parameters', 'results', 'controls'], [33, 34, 33], [[values(step.parameters, step.parameterUnits), values(step.results, step.resultUnits), step.controls.map(control).join('<br>')]], ''));
  }
  if (step.recurring.length > 0) {
    parts.push(
      table(
        ['at', 'recurring work', 'parameters', 'results', 'controls'],
        [12, 14, 18, 32, 24],
        step.recurring.map((r) => [time(r.ended ?? r.issued), `${html(r.work)}<br>on ${html(r.module)}${r.outcome === 'completed' ? '' : `<br><span class="fail">${html(r.outcome)}</span>`}`, values(r.parameters, r.parameterUnits), values(r.results, r.resultUnits), r.controls.map(control).join('<br>')]),
        '',
      ),
    );
  }
  if (step.telemetry.length > 0) {
    parts.push(
      table(
        ['telemetry', 'min', 'max', 'mean', 'n', 'limits'],
        [24, 14, 14, 14, 9, 25],
        step.telemetry.map((t) => [`${html(t.module)} ${html(t.channel)}`, html(formatValue(t.min, t.unit)), html(formatValue(t.max, t.unit)), html(formatValue(t.mean, t.unit)), String(t.samples), t.limits.map((l) => `${html(l.kind)} ${html(formatValue(l.value, t.unit, { exact: true }))} (${html(l.source)})`).join('<br>')]),
        '',
      ),
    );
    parts.push(`<div class="plots">${step.telemetry.map((t) => telemetryPlot(t, reference)).join('')}</div>`);
  }
  return `<section class="step">${parts.join('\n')}</section>`;
}
