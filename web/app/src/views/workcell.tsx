/** The workcell, live: open holds and alarms on top, then lanes by modules and where each batch stands. */
import type { BatchStatus, ModuleStatus } from '../api-types.ts';
import { useStatus } from '../live.ts';
import { Empty, Pending, Problem, Section, time, timeLeft } from '../ui.tsx';

export function WorkcellView() {
  const { data, error } = useStatus();
  if (!data) return <Pending view="workcell-view" title="Workcell" error={error} />;
  const status = data.status;
  const now = status?.at ?? Date.now();
  const batches = status?.batches ?? [];
  const modules: ModuleStatus[] = status?.modules ?? [];
  const lanes = groupBy(modules, (m) => (m.lanes && m.lanes.length > 0 ? m.lanes.join(', ') : 'shared'));
  return (
    <div class="view workcell-view">
      <h1>Workcell</h1>
      <Problem error={error} />
      {data.holds.length > 0 ? (
        <div class="banner hold-banner" role="status">
          <b>
            {data.holds.length} open hold{data.holds.length === 1 ? '' : 's'}
          </b>
          {data.holds.map((h) => (
            <a href={`#/holds`} class="chip">
              {h.batchId} at {h.step}: {h.message}
              {h.holdTime ? ` (hold time ${timeLeft(h.holdTime.deadline - now)})` : ''}
            </a>
          ))}
        </div>
      ) : null}
      {!status ? <p class="banner">No orchestrator has written a status to this log yet: start one with workcell run.</p> : status.final ? <p class="banner">The orchestrator stopped; this is the last status it wrote ({time(status.at)}).</p> : null}
      <Section title="Batches" count={batches.length}>
        {batches.length === 0 ? (
          <Empty>No batch is running.</Empty>
        ) : (
          <table class="grid">
            <thead>
              <tr>
                <th>batch</th>
                <th>patient</th>
                <th>lane</th>
                <th>step</th>
                <th>phase</th>
                <th>module</th>
                <th>expected finish</th>
                <th>why it waits</th>
              </tr>
            </thead>
            <tbody>
              {batches.map((b) => (
                <BatchRow batch={b} now={now} />
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Modules" count={modules.length}>
        <div class="lanes">
          {lanes.map(([lane, members]) => (
            <div class="lane">
              <h3>{lane}</h3>
              <div class="modules">
                {members.map((m) => (
                  <div class={`module state-${m.state}${m.outOfService ? ' out' : ''}`} data-module={m.id}>
                    <b>{m.id}</b>
                    <span class="state">{m.state}</span>
                    <span class="occupant">{m.occupant ? `holds ${m.occupant}` : 'free'}</span>
                    {m.outOfService ? <span class="why">{m.outOfService}</span> : null}
                  </div>
                ))}
              </div>
            </div>
          ))}
        </div>
      </Section>
      <Section title="Recent alarms" count={data.alarms.length}>
        {data.alarms.length === 0 ? (
          <Empty>No alarms.</Empty>
        ) : (
          <ul class="alarms">
            {[...data.alarms].reverse().map((a) => (
              <li>
                <span class="at">{time(a.at, now)}</span> <b>{a.batchId}</b> {a.kind}
                {a.module ? ` on ${a.module}` : ''}: {a.message}
              </li>
            ))}
          </ul>
        )}
      </Section>
      {data.awaitingReview.length > 0 ? (
        <Section title="Records awaiting QA review" count={data.awaitingReview.length}>
          <ul>
            {data.awaitingReview.map((r) => (
              <li>
                <a href={`#/batches/${encodeURIComponent(r.batchId)}`}>{r.batchId}</a> ({r.status}){r.waitingFor.length > 0 ? `: waiting for ${r.waitingFor.join(' and ')}` : ': ready for review'}
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
    </div>
  );
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Array<[string, T[]]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups];
}

function BatchRow({ batch, now }: { batch: BatchStatus; now: number }) {
  return (
    <tr data-batch={batch.batchId} class={`phase-${batch.phase}`}>
      <td>
        <a href={`#/batches/${encodeURIComponent(batch.batchId)}`}>{batch.batchId}</a>
      </td>
      <td>{batch.patient}</td>
      <td>{batch.lane}</td>
      <td>{batch.step}</td>
      <td class="phase">{batch.phase}</td>
      <td>{batch.module ?? '-'}</td>
      <td>{batch.expectedFinish ? time(batch.expectedFinish, now) : '-'}</td>
      <td>
        {batch.note ?? ''}
        {batch.holdTime ? ` hold time after ${batch.holdTime.step}: ${timeLeft(batch.holdTime.deadline - now)}` : ''}
      </td>
    </tr>
  );
}
