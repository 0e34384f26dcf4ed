/**
 * The plan as one self-contained HTML page (inline SVG and CSS, nothing fetched), readable on screen
 * and in print: the comparison table, throughput against the bound, utilisation bars, and per scenario
 * a Gantt chart of its first seed: a row per module, a bar per step coloured by batch, line clearances
 * and transfers marked, hold-time windows shaded.
 */
import { html } from '../html-text.ts';
import type { PlanReport, ScenarioReport } from './report-schema.ts';
import { comparisonRows } from './report-text.ts';
import type { Timeline } from './timeline.ts';

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg { display: block; margin: 8px 0; }
.legend span { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: middle; margin-right: 4px; border: 1px solid #888; }
@media print {
  body { margin: 0; font-size: 11px; }
  section { break-inside: avoid; }
  svg { max-width: 100%; height: auto; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}`;

export function planHtml(report: PlanReport, timelines: ReadonlyArray<Timeline | undefined>): string {
  const rows = comparisonRows(report);
  const table = `<table><thead><tr><th></th>${report.scenarios.map((s) => `<th>${html(s.name)}</th>`).join('')}</tr></thead><tbody>${rows.map(([label, ...cells]) => `<tr><td>${html(label)}</td>${cells.map((c) => `<td>${html(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const scenarios = report.scenarios.map((s, i) => scenarioSection(s, timelines[i])).join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Workcell capacity plan</title><style>${CSS}</style></head>
<body>
<h1>Workcell capacity plan</h1>
<p>${report.arrivals.patients} patients (${html(report.arrivals.spec)}) over ${report.horizon.weeks} weeks from ${html(report.horizon.startAt)}, seeds ${html(report.seeds.join(', '))}; the orchestrator in virtual time on simulated devices.</p>
<section><h2>Comparison</h2>${table}</section>
<section><h2>Throughput against the bottleneck bound</h2>${throughputChart(report.scenarios)}</section>
${scenarios}
</body></html>
`;
}

function scenarioSection(s: ScenarioReport, timeline: Timeline | undefined): string {
  const waits = s.waits.length === 0 ? '<p>No waits for a module of a minute or more.</p>' : `<table><thead><tr><th>Waiting for</th><th>h per seed</th><th>waits</th></tr></thead><tbody>${s.waits.map((w) => `<tr><td>${html(w.reason)}</td><td>${w.hours.toFixed(1)}</td><td>${w.count}</td></tr>`).join('')}</tbody></table>`;
  const deviations = s.holdTimeDeviations.length === 0 ? '<p>No hold-time deviations.</p>' : `<table><thead><tr><th>Batch</th><th>after</th><th>min over</th><th>cause</th></tr></thead><tbody>${s.holdTimeDeviations.map((d) => `<tr><td>${html(d.batchId)} (seed ${d.seed})</td><td>${html(d.step)}</td><td>${d.overMinutes}</td><td style="text-align:left">${html(d.cause)}</td></tr>`).join('')}</tbody></table>`;
  const findings = s.findings.length === 0 ? '' : `<h3>Findings</h3><ul>${s.findings.map((f) => `<li>${html(f.batchId)} (seed ${f.seed}): ${html(f.message)}</li>`).join('')}</ul>`;
  return `<section><h2>${html(s.name)}</h2>
<h3>Module utilisation</h3>${utilisationBars(s)}
${timeline ? `<h3>Gantt chart (seed ${s.runs[0]?.seed ?? ''})</h3>${gantt(timeline, s)}` : ''}
<h3>Waits by cause</h3>${waits}
<h3>Hold-time deviations</h3>${deviations}
${findings}
</section>`;
}

function throughputChart(scenarios: readonly ScenarioReport[]): string {
  const width = 1100;
  const label = 420;
  const rowHeight = 34;
  const top = Math.max(1, ...scenarios.map((s) => Math.max(s.bound.patientsPerWeek, s.patientsPerWeek.max)));
  // Room on the right for the figures beside the bars.
  const x = (v: number) => label + ((width - label - 250) * v) / top;
  const bars = scenarios.map((s, i) => {
    const y = i * rowHeight + 6;
    return `<text x="0" y="${y + 16}" font-size="12">${html(s.name)}</text>
<rect x="${label}" y="${y}" width="${x(s.patientsPerWeek.mean) - label}" height="20" fill="#3b7dd8"><title>${s.patientsPerWeek.mean} patients/week</title></rect>
<line x1="${x(s.patientsPerWeek.min)}" x2="${x(s.patientsPerWeek.max)}" y1="${y + 10}" y2="${y + 10}" stroke="#123" stroke-width="2"/>
<line x1="${x(s.bound.patientsPerWeek)}" x2="${x(s.bound.patientsPerWeek)}" y1="${y - 3}" y2="${y + 23}" stroke="#c33" stroke-width="3"><title>bound ${s.bound.patientsPerWeek} (${html(s.bound.kind)})</title></line>
<line x1="${x(s.bound.evenLanes.patientsPerWeek)}" x2="${x(s.bound.evenLanes.patientsPerWeek)}" y1="${y - 3}" y2="${y + 23}" stroke="#e90" stroke-width="2" stroke-dasharray="3 2"><title>arrivals even over the lanes: ${s.bound.evenLanes.patientsPerWeek} (${html(s.bound.evenLanes.kind)})</title></line>
<text x="${x(Math.max(s.bound.patientsPerWeek, s.patientsPerWeek.mean)) + 6}" y="${y + 15}" font-size="11">${s.patientsPerWeek.mean.toFixed(2)} / ${s.bound.patientsPerWeek.toFixed(2)} a week (${(s.bound.shareOfBound * 100).toFixed(0)} %)</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${scenarios.length * rowHeight + 10}" role="img" aria-label="throughput against the bound">${bars.join('\n')}</svg>
<p class="legend"><span><i class="swatch" style="background:#3b7dd8"></i>patients a week (mean; line: range over seeds)</span><span><i class="swatch" style="background:#c33"></i>bottleneck bound</span><span><i class="swatch" style="background:#e90"></i>what arrivals even over the lanes can keep up with</span></p>`;
}

function utilisationBars(s: ScenarioReport): string {
  const modules = s.modules.filter((m) => m.kind !== 'settle-plate-handler');
  const width = 700;
  const label = 200;
  const bars = modules.map((m, i) => {
    const y = i * 22;
    const w = (width - label - 60) * m.utilisation;
    const fill = m.id === s.bottleneck.module ? '#c33' : '#5a9';
    return `<text x="0" y="${y + 14}" font-size="12">${html(m.id)} (${html(m.kind)})</text><rect x="${label}" y="${y + 3}" width="${w.toFixed(1)}" height="14" fill="${fill}"/><text x="${label + w + 6}" y="${y + 14}" font-size="11">${(m.utilisation * 100).toFixed(0)} %</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${modules.length * 22 + 4}" role="img" aria-label="utilisation">${bars.join('')}</svg>`;
}

/** A colour of its own for each batch, well apart from its neighbours (golden-angle hues). */
function batchColour(index: number): string {
  return `hsl(${Math.round((index * 137.508) % 360)}, 62%, 52%)`;
}

function gantt(timeline: Timeline, s: ScenarioReport): string {
  const modules = s.modules.filter((m) => m.kind !== 'settle-plate-handler').map((m) => m.id);
  const from = Math.min(...[...timeline.batches.values()].map((b) => b.startedAt), timeline.end);
  const until = Math.max(timeline.end, from + 1);
  const width = 1300;
  const label = 110;
  const rowHeight = 24;
  const x = (t: number) => label + ((width - label - 10) * (t - from)) / (until - from);
  const row = new Map(modules.map((id, i) => [id, i]));
  const colours = new Map([...timeline.batches.keys()].map((id, i) => [id, batchColour(i)]));
  const shapes: string[] = [];
  const rect = (module: string, a: number, b: number, attributes: string, title: string, inset = 3) => {
    const r = row.get(module);
    if (r === undefined) return;
    shapes.push(`<rect x="${x(a).toFixed(1)}" y="${r * rowHeight + inset}" width="${Math.max(0.8, x(b) - x(a)).toFixed(1)}" height="${rowHeight - 2 * inset}" ${attributes}><title>${html(title)}</title></rect>`);
  };
  const when = (t: number) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');
  for (const w of timeline.holdWindows) if (w.module) rect(w.module, w.from, Math.max(w.until, w.from), `fill="${w.within === false ? '#f4a3a3' : '#fde9a8'}" opacity="0.8"`, `${w.batchId}: hold time after ${w.step}, deadline ${when(w.deadline)}${w.within === false ? ' (exceeded)' : ''}`, 0);
  for (const bar of timeline.stepBars) rect(bar.module, bar.from, bar.until, `fill="${colours.get(bar.batchId) ?? '#888'}"`, `${bar.batchId} ${bar.step} on ${bar.module}, ${when(bar.from)} to ${when(bar.until)}`);
  for (const [module, list] of timeline.clearances) for (const c of list) rect(module, c.from, c.until, 'fill="url(#clearance)" stroke="#555" stroke-width="0.5"', `line clearance of ${module} after ${c.after}`);
  for (const t of timeline.transfers) rect(t.arm, t.from, t.until, `fill="${colours.get(t.batchId) ?? '#888'}"`, `${t.batchId} moved to ${t.to}`, 6);
  const height = modules.length * rowHeight;
  const batchLegend = colours.size <= 60 ? `<p class="legend">${[...colours].map(([id, colour]) => `<span><i class="swatch" style="background:${colour}"></i>${html(id)}</span>`).join('')}</p>` : '';
  const labels = modules.map((id, i) => `<text x="0" y="${i * rowHeight + 16}" font-size="12">${html(id)}</text><line x1="${label}" x2="${width}" y1="${(i + 1) * rowHeight}" y2="${(i + 1) * rowHeight}" stroke="#eee"/>`);
  const ticks = timeTicks(from, until).map((t) => `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="0" y2="${height}" stroke="#ddd"/><text x="${x(t).toFixed(1)}" y="${height + 14}" font-size="10" text-anchor="middle">${when(t).slice(0, 11)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 20}" role="img" aria-label="Gantt chart">
<defs><pattern id="clearance" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ddd"/><line x1="0" y1="0" x2="0" y2="6" stroke="#666" stroke-width="2"/></pattern></defs>
${ticks.join('')}${labels.join('')}${shapes.join('')}</svg>
<p class="legend"><span><i class="swatch" style="background:hsl(0,62%,52%)"></i>a step (colour: batch; hover for details)</span><span><i class="swatch" style="background:repeating-linear-gradient(45deg,#666 0 2px,#ddd 2px 6px)"></i>line clearance</span><span><i class="swatch" style="background:#fde9a8"></i>hold time running</span><span><i class="swatch" style="background:#f4a3a3"></i>hold time exceeded</span><span>thin bars on arm rows: transfers</span></p>${batchLegend}`;
}

/** Up to about ten gridlines at whole hours, days or weeks. */
function timeTicks(from: number, until: number): number[] {
  const span = until - from;
  const step = [3600_000, 6 * 3600_000, 86400_000, 7 * 86400_000, 28 * 86400_000].find((s) => span / s <= 12) ?? 91 * 86400_000;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= until; t += step) ticks.push(t);
  return ticks;
}
