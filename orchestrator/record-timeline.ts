/**
 * The timeline of a batch record: what happened to the batch, in log order, one readable line per
 * entry that changed its course or needs a reviewer's eye. Entries the record shows elsewhere in full
 * (telemetry, commands, controls, transfers, settle plates) stay off it; an entry of a type this
 * version does not know is never dropped: it is summarised from its data and flagged.
 */
import { durationText } from './quantity-format.ts';
import type { LogEntry } from './event-log.ts';

type Data = Record<string, unknown>;

const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));
const suffix = (value: unknown, before = ': ') => (text(value) ? `${before}${text(value)}` : '');

/** `sep-1 at wash`: the module and step, as far as the entry names them. */
function where(d: Data): string {
  return [d.module !== undefined ? text(d.module) : '', d.step !== undefined ? `at ${text(d.step)}` : ''].filter(Boolean).join(' ');
}

function approval(approver: unknown): string {
  const by = approver as { user?: unknown; printedName?: unknown } | undefined;
  return by && typeof by === 'object' ? ` (skip approved by ${text(by.printedName)} (${text(by.user)}))` : '';
}

// Known types: a summary for the timeline, or null when the record shows the entry in a section of its own.
const TIMELINE: Readonly<Record<string, ((d: Data) => string) | null>> = {
  'batch.started': (d) => `batch started on ${text(d.lane)}`,
  'material.received': (d) => `starting material ${text(d.bagId)} received at ${text(d.position)}, scanned ${text(d.scanned)}`,
  'step.started': (d) => `${text(d.step)}: attempt ${text(d.attempt)} started`,
  'step.completed': (d) => `${text(d.step)} completed on ${text(d.module)}`,
  'step.skipped': (d) => (d.ran === true ? `${text(d.step)} ran; the batch went on without it${approval(d.approvedBy)}` : `${text(d.step)} skipped${suffix(d.reason)}`),
  'step.failed': (d) => `${text(d.step)}: attempt ${text(d.attempt)} failed${suffix(d.message)}`,
  'command.failed': (d) => `command ${text(d.key)} on ${text(d.module)} failed${suffix(d.message)}`,
  'hold-time.started': (d) => `hold time after ${text(d.step)} started (${durationText(Number(d.maxHoldSeconds))})`,
  'hold-time.ended': () => 'hold time ended: the material entered the next module',
  'hold.requested': (d) => `hold requested by ${text(d.user)}${suffix(d.reason)}`,
  'hold.opened': (d) => `held at ${text(d.step)} (${text(d.kind)})${suffix(d.message)}`,
  'hold.resolved': (d) => `hold at ${text(d.step)} answered by ${text(d.user)}: ${text(d.action)}${suffix(d.reason)}`,
  alarm: (d) => `alarm ${text(d.kind)}${where(d) ? ` (${where(d)})` : ''}${suffix(d.message)}`,
  deviation: (d) => `deviation ${text(d.kind)}${where(d) ? ` (${where(d)})` : ''}${suffix(d.message)}`,
  'module.reconciled': (d) => `${text(d.module)} reconciled: Workcell believed ${text(d.believed)}, the device was ${text(d.actual)}${suffix(d.action, '; ')}${suffix(d.message)}`,
  'batch.interrupted': (d) => `the orchestrator stopped while the batch ran${suffix(d.message)}`,
  'batch.resumed': (d) => `resumed${d.afterCrash === true ? ' after a crash' : ''}${d.runId !== undefined ? ` (run ${text(d.runId)})` : ''}${suffix(d.message)}`,
  'batch.completed': (d) => `batch completed; the material is at ${text(d.output)}`,
  'batch.quarantined': (d) => `batch quarantined at ${text(d.step)}; the material is ${d.stuck === true ? 'stuck in' : 'at'} ${text(d.location)}`,
  'material.removed': (d) => `material removed by hand from ${text(d.from)} by ${text(d.user)}${suffix(d.reason)}`,
  'record.reviewed': (d) => `record ${text(d.decision)} by ${text(d.user)}${suffix(d.reason)}`,
  'module.locked': (d) => `${text(d.module)} locked for the batch (lock ${text(d.lockId)})`,
  'module.unlocked': (d) => `${text(d.module)} unlocked${suffix(d.reason)}`,
  'command.recoverable-error': (d) => `${text(d.module)} waits in a recoverable error${suffix(d.message)}; it offers ${((d.options ?? []) as Array<{ identifier: string }>).map((o) => o.identifier).join(', ')}`,
  'command.continued': (d) => (d.abandoned === true ? `${text(d.module)}: the device's error handling given up (by ${text(d.by)})` : `${text(d.module)} continued with the device's option ${text(d.option)} (chosen by ${text(d.by)})`),
  'command.cancelled': (d) => `command ${text(d.key)} on ${text(d.module)} ${d.cancelled === false ? 'could not be cancelled' : 'cancelled'}${suffix(d.reason)}`,
  'command.paused': (d) => `command ${text(d.key)} on ${text(d.module)} paused${suffix(d.reason)}`,
  'command.resumed': (d) => `command ${text(d.key)} on ${text(d.module)} ${d.resumed === false ? 'could not be resumed' : 'resumed'}`,
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
export function timelineSummary(entry: Pick<LogEntry, 'type' | 'data'>): string | undefined {
  const describe = TIMELINE[entry.type];
  if (describe === null) return undefined;
  return describe ? describe(entry.data) : `${entry.type}: ${describeData(entry.data)}`;
}

/** Any entry's data as `name=value` pairs, nested values as JSON: how an unknown entry stays readable. */
export function describeData(data: Data): string {
  const signature = data.signature as { user?: unknown; printedName?: unknown } | undefined;
  const pairs = Object.entries(data)
    .filter(([name]) => name !== 'signature')
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  if (signature && typeof signature === 'object') pairs.push(`signed by ${text(signature.printedName)} (${text(signature.user)})`);
  return pairs.length > 0 ? pairs.join(', ') : '(no data)';
}
