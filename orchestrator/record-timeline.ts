/**
 * The timeline of a batch record: what happened to the batch, in log order, one readable line per
 * entry that changed its course or needs a reviewer's eye. Entries the record shows elsewhere in full
 * (telemetry, commands, controls, transfers, settle plates) stay off it; an entry of a type this
 * version does not know is never dropped: it is summarised from its data and flagged.
 */
import { durationText } from './quantity-format.ts';
import type { EntryData, EntryType } from './entries.ts';

type Shown = string | number | null | undefined;
const text = (value: Shown) => (value === undefined || value === null ? '' : String(value));
const suffix = (value: Shown, before = ': ') => (text(value) ? `${before}${text(value)}` : '');

/** `sep-1 at wash`: the module and step, as far as the entry names them. */
function where(d: { module?: string; step?: string }): string {
  return [d.module ?? '', d.step !== undefined ? `at ${d.step}` : ''].filter(Boolean).join(' ');
}

function approval(by: { user: string; printedName: string } | undefined): string {
  return by ? ` (skip approved by ${by.printedName} (${by.user}))` : '';
}

/** Per type: a summary for the timeline, or null when the record shows the entry in a section of its own. */
type Summaries = { [T in EntryType]?: ((d: EntryData<T>) => string) | null };

const TIMELINE: Summaries = {
  'batch.started': (d) => `batch started on ${d.lane}${d.request ? `, as ${d.request.signature.user} asked (log position ${d.request.seq})${suffix(d.request.reason)}` : ''}`,
  'material.received': (d) => `starting material ${d.bagId} received at ${d.position}, scanned ${d.scanned}`,
  'step.started': (d) => `${d.step}: attempt ${d.attempt} started`,
  'step.completed': (d) => `${d.step} completed on ${d.module}`,
  'step.skipped': (d) => (d.ran === true ? `${d.step} ran; the batch went on without it${approval(d.approvedBy)}` : `${d.step} skipped${suffix(d.reason)}`),
  'step.failed': (d) => `${d.step}: attempt ${text(d.attempt)} failed${suffix(d.message)}`,
  'command.failed': (d) => `command ${d.key} on ${d.module} failed${suffix(d.message)}`,
  'hold-time.started': (d) => `hold time after ${d.step} started (${durationText(d.maxHoldSeconds)})`,
  'hold-time.ended': () => 'hold time ended: the material entered the next module',
  'hold.requested': (d) => `hold requested by ${d.user}${suffix(d.reason)}`,
  'hold.opened': (d) => `held at ${d.step} (${d.kind})${suffix(d.message)}`,
  'hold.resolved': (d) => `hold at ${d.step} answered by ${d.user}: ${d.action}${suffix(d.reason)}`,
  alarm: (d) => `alarm ${d.kind}${where(d) ? ` (${where(d)})` : ''}${suffix(d.message)}`,
  deviation: (d) => `deviation ${d.kind}${where(d) ? ` (${where(d)})` : ''}${suffix(d.message)}`,
  'module.reconciled': (d) => `${d.module} reconciled: Workcell believed ${text(d.believed)}, the device was ${d.actual}${suffix(d.action, '; ')}${suffix(d.message)}`,
  'batch.interrupted': (d) => `the orchestrator stopped while the batch ran${suffix(d.message)}`,
  'batch.resumed': (d) => `resumed${d.afterCrash ? ' after a crash' : ''}${d.runId !== undefined ? ` (run ${text(d.runId)})` : ''}${suffix(d.message)}`,
  'batch.completed': (d) => `batch completed; the material is at ${d.output}`,
  'batch.quarantined': (d) => `batch quarantined at ${d.step}; the material is ${d.stuck ? 'stuck in' : 'at'} ${d.location}`,
  'material.removed': (d) => `material removed by hand from ${d.from} by ${d.user}${suffix(d.reason)}`,
  'record.reviewed': (d) => `record ${d.decision} by ${d.user}${suffix(d.reason)}`,
  'module.locked': (d) => `${d.module} locked for the batch (lock ${d.lockId})`,
  'module.unlocked': (d) => `${d.module} unlocked${suffix(d.reason)}`,
  'command.recoverable-error': (d) => `${d.module} waits in a recoverable error${suffix(d.message)}; it offers ${d.options.map((o) => o.identifier).join(', ')}`,
  'command.continued': (d) => (d.abandoned === true ? `${d.module}: the device's error handling given up (by ${d.by})` : `${d.module} continued with the device's option ${text(d.option)} (chosen by ${d.by})`),
  'command.cancelled': (d) => `command ${d.key} on ${d.module} ${d.cancelled === false ? 'could not be cancelled' : 'cancelled'}${suffix(d.reason)}`,
  'command.paused': (d) => `command ${d.key} on ${d.module} paused${suffix(d.reason)}`,
  'command.resumed': (d) => `command ${d.key} on ${d.module} ${d.resumed === false ? 'could not be resumed' : 'resumed'}`,
  telemetry: null,
  'module.state': null,
  'module.reserved': null,
  'module.released': null,
  'command.issued': null,
  'command.accepted': null,
  'command.completed': null,
  'control.checked': null,
  'transfer.completed': null,
  'line-clearance.verified': null,
  'em.result': null,
};

/** The entry's line on the timeline, or undefined when it belongs to another section of the record. */
export function timelineSummary<T extends EntryType>(entry: { type: T; data: EntryData<T> }): string | undefined {
  const describe: ((d: EntryData<T>) => string) | null | undefined = TIMELINE[entry.type];
  if (describe === null) return undefined;
  return describe ? describe(entry.data) : `${entry.type}: ${describeData(entry.data)}`;
}

/** Any entry's data as `name=value` pairs, nested values as JSON: how an unknown entry stays readable. */
export function describeData(data: object): string {
  const signature = 'signature' in data ? data.signature : undefined;
  const pairs = Object.entries(data)
    .filter(([name]) => name !== 'signature')
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  if (signature && typeof signature === 'object' && 'user' in signature && 'printedName' in signature) pairs.push(`signed by ${String(signature.printedName)} (${String(signature.user)})`);
  return pairs.length > 0 ? pairs.join(', ') : '(no data)';
}
