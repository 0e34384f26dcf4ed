/**
 * Starting a patient's batch from the HMI, signed by an operator (a CDMO without an MES starts its batches
 * here): a schedule of those the server may start (one that does not fit the layout offered disabled, with
 * why), the patient's identity, the lane (the one with fewest unfinished batches unless chosen) and the
 * signature. The server queues the request; the running orchestrator starts the batch, and the batch list
 * shows it then, as it shows every batch started.
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import type { BatchRequested, ScheduleList, ScheduleListing, SessionInfo, StartBatchBody } from '../api-types.ts';
import { useApi, useStatus } from '../live.ts';
import { asSentence, Empty, Problem, SignatureForm } from '../ui.tsx';

/** What the operator types, kept as typed until the server takes it (a refusal keeps it for a correction). */
interface Fields {
  /** Empty: the first schedule that may be started. */
  schedule: string;
  batchId: string;
  patient: string;
  chainOfIdentity: string;
  bagId: string;
  /** Empty: the server picks the lane with fewest unfinished batches. */
  lane: string;
}

const EMPTY: Fields = { schedule: '', batchId: '', patient: '', chainOfIdentity: '', bagId: '', lane: '' };

export function StartBatchPanel({ session }: { session: SessionInfo }) {
  const schedules = useApi<ScheduleList>('/api/schedules');
  return (
    <details class="start-batch card no-print">
      <summary>Start a batch</summary>
      {schedules.data ? <StartBatchForm session={session} list={schedules.data} reloadSchedules={schedules.reload} /> : schedules.error ? <Problem error={schedules.error} /> : <p class="loading">Loading the schedules…</p>}
    </details>
  );
}

function StartBatchForm({ session, list, reloadSchedules }: { session: SessionInfo; list: ScheduleList; reloadSchedules: () => void }) {
  const [fields, setFields] = useState<Fields>(EMPTY);
  const [queued, setQueued] = useState<BatchRequested | null>(null);
  const lanes = useLanes();
  if (list.schedules.length === 0) return <Empty>There is no schedule in {list.directory} to start a batch on.</Empty>;
  const chosen = list.schedules.find((s) => s.name === fields.schedule) ?? list.schedules.find((s) => s.startable);
  const unfit = list.schedules.filter((s) => !s.startable);
  const edit = (key: keyof Fields) => (event: { currentTarget: { value: string } }) => {
    const value = event.currentTarget.value;
    setFields((f) => ({ ...f, [key]: value }));
  };
  async function start({ reason, password }: { reason: string; password: string }) {
    setQueued(null);
    if (!chosen) throw new Error(`no schedule of ${list.directory} fits the layout: there is none to start a batch on`);
    // What was signed for stays chosen, even if the list changes under it (reloaded after a refusal).
    setFields((f) => ({ ...f, schedule: chosen.name }));
    if (!chosen.startable) throw new Error(`${chosen.name} cannot be started: ${chosen.problems.join('; ')}`);
    const optional = (key: 'lane' | 'chainOfIdentity' | 'bagId') => (fields[key].trim() ? { [key]: fields[key].trim() } : {});
    const body: StartBatchBody = { batchId: fields.batchId.trim(), patient: fields.patient.trim(), schedule: chosen.name, ...optional('lane'), ...optional('chainOfIdentity'), ...optional('bagId'), signature: { reason, password } };
    try {
      setQueued(await api.post<BatchRequested>('/api/batches', body));
    } catch (failure) {
      // A schedule refused may have changed since it was listed: the list shows it as it is now.
      if (failure instanceof ApiError && (failure.status === 400 || failure.status === 409)) reloadSchedules();
      throw failure;
    }
    // The next patient's batch is another: its identity is typed afresh; schedule and lane stay.
    setFields((f) => ({ ...f, batchId: '', patient: '', chainOfIdentity: '', bagId: '' }));
  }
  return (
    <>
      <p class="source">
        Schedules of {list.directory}, each checked against the layout the workcell runs on{list.layout ? ` (${list.layout})` : ''}.
      </p>
      <SignatureForm session={session} meaning="responsibility for starting the batch" submitLabel="Sign: start the batch" onSign={start}>
        <div class="row">
          <label class="schedule">
            Schedule
            <select name="schedule" required value={chosen?.name ?? ''} onChange={edit('schedule')}>
              {chosen ? null : <option value="">none fits the layout</option>}
              {list.schedules.map((s) => (
                <option value={s.name} disabled={!s.startable}>
                  {scheduleLabel(s)}
                </option>
              ))}
            </select>
          </label>
        </div>
        {unfit.length > 0 ? (
          <ul class="unfit">
            {unfit.map((s) => (
              <li data-schedule={s.name}>
                <b>{s.name}</b> cannot be started:
                <ul>
                  {s.problems.map((problem) => (
                    <li class="hash">{problem}</li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        ) : null}
        <div class="row">
          <label>
            Batch id
            {/* The server's rule for a batch id, checked here first so that a typo is said at once. */}
            <input name="batch-id" required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9._\-]*" title="letters, digits, '.', '_' and '-', beginning with a letter or digit" value={fields.batchId} onInput={edit('batchId')} />
          </label>
          <label>
            Patient
            <input name="patient" required maxLength={200} value={fields.patient} onInput={edit('patient')} />
          </label>
          <label>
            Lane
            <select name="lane" value={fields.lane} onChange={edit('lane')}>
              <option value="">fewest unfinished batches</option>
              {lanes.map((lane) => (
                <option value={lane}>{lane}</option>
              ))}
            </select>
          </label>
        </div>
        <div class="row">
          <label>
            Chain of identity
            <input name="chain-of-identity" placeholder={`COI-${fields.batchId.trim() || '<batch id>'}`} value={fields.chainOfIdentity} onInput={edit('chainOfIdentity')} />
          </label>
          <label>
            Bag id
            <input name="bag-id" placeholder={`BAG-${fields.batchId.trim() || '<batch id>'}`} value={fields.bagId} onInput={edit('bagId')} />
          </label>
        </div>
      </SignatureForm>
      {queued ? (
        <p class={queued.orchestratorRunning ? 'done' : 'banner'} role="status">
          {asSentence(queued.message)}
        </p>
      ) : null}
    </>
  );
}

function scheduleLabel(s: ScheduleListing): string {
  const what = [s.title, s.product ? `for ${s.product}` : null, s.id ? `(${[s.id, s.version].filter(Boolean).join(' ')})` : null].filter(Boolean).join(' ');
  return `${s.name}${what ? `: ${what}` : ''}${s.startable ? '' : ' (cannot be started: see below)'}`;
}

/** The workcell's lanes, from the modules of the live status (each knows the lanes it serves). */
function useLanes(): string[] {
  const status = useStatus().data?.status;
  const lanes = new Set([...(status?.modules ?? []).flatMap((m) => m.lanes ?? []), ...(status?.batches ?? []).map((b) => b.lane)]);
  return [...lanes].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
}
