/**
 * A batch record for review by exception: first what a reviewer must see (deviations, alarms, holds,
 * operator actions with their signatures, steps that went on without their controls), then the timeline,
 * the steps, chain of custody, environmental monitoring and the integrity of the hash chain as the server
 * verified it; QA's signed approval or rejection at the end. Printing gives the same page, signatures shown.
 */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect } from 'preact/hooks';
import { api, segment } from '../api.ts';
import type { BatchRecord, RecordResponse, ReviewBody, SessionInfo } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, Pending, Problem, Section, SignatureForm, SignatureLine, hasRole, time } from '../ui.tsx';
import { Control, StepSection } from './record-steps.tsx';
import { loadPlots } from './plotting.ts';
import { formatValue } from '../../../../orchestrator/quantity-format.ts';

const FINISHED = new Set<BatchRecord['status']>(['completed', 'quarantined']);

export function RecordView({ batchId, session }: { batchId: string; session: SessionInfo }) {
  // The plotting code is asked for first and loads while the server builds the record (a failure shows in each plot's box).
  useLayoutEffect(() => void loadPlots().catch(() => undefined), []);
  // A finished record changes only by its review (which reloads it): events fetch it again only while the batch runs.
  const { data, error, reload } = useApi<RecordResponse>(`/api/batches/${segment(batchId)}/record`, { live: (d) => d !== undefined && !FINISHED.has(d.record.status) });
  if (!data) return <Pending view="record-view" title={`Batch record ${batchId}`} error={error} />;
  const { record, integrity } = data;
  const reference = Date.parse(record.started);
  const at = (iso: string | undefined) => time(iso, reference);
  const departed = record.steps.filter((s) => s.outcome === 'failed-controls-skipped' || s.outcome === 'incomplete-skipped');
  const failedControls = record.steps.flatMap((s) => s.controls.filter((c) => !c.pass).map((c) => ({ step: s.step, control: c })));
  const exceptions = record.deviations.length + record.alarms.length + record.holds.length + record.operatorActions.length + departed.length + failedControls.length + record.interruptions.length + record.reconciliations.length + record.unrecognised.length;
  return (
    <article class="view record-view" data-record={record.batchId}>
      <header class="record-head">
        <h1>Batch record {record.batchId}</h1>
        <button type="button" class="no-print" onClick={() => window.print()}>
          Print / PDF
        </button>
      </header>
      <Problem error={error} />
      <dl class="identity">
        <dt>Patient</dt>
        <dd>{record.identity.patient}</dd>
        <dt>Chain of identity</dt>
        <dd>{record.identity.chainOfIdentity}</dd>
        <dt>Starting material</dt>
        <dd>{record.identity.bagId}</dd>
        <dt>Lane</dt>
        <dd>{record.identity.lane}</dd>
        <dt>Schedule</dt>
        <dd>
          {record.identity.schedule.id} version {record.identity.schedule.version} <span class="hash">sha256 {record.identity.schedule.contentHash}</span>
        </dd>
        <dt>Layout</dt>
        <dd>{record.identity.layout.id}</dd>
        <dt>Started</dt>
        <dd>{record.started.replace('T', ' ').slice(0, 16)} UTC</dd>
        <RequestedBy request={record.identity.request} at={at} />
        <dt>Status</dt>
        <dd class={`status status-${record.status.replace(' ', '-')}`}>{record.status}</dd>
        <dt>Review</dt>
        <dd class={record.review ? (record.review.decision === 'approved' ? 'pass' : 'fail') : 'open'}>{record.review ? `${record.review.decision} ${at(record.review.at)}` : 'not reviewed'}</dd>
      </dl>
      <Section title="Review by exception" id="exceptions" count={exceptions}>
        {exceptions === 0 ? <Empty>No deviations, alarms, holds, operator actions or failed controls.</Empty> : null}
        <Rows title="Deviations" items={record.deviations} head={['at', 'kind', 'where', 'message']} row={(d) => [at(d.at), d.kind, where(d), d.message]} />
        <Rows title="Alarms" items={record.alarms} head={['at', 'kind', 'where', 'message']} row={(a) => [at(a.at), a.kind, where(a), a.message]} />
        <Rows title="Failed controls" items={failedControls} head={['step', 'control']} row={(f) => [f.step, <ul class="values"><Control control={f.control} /></ul>]} />
        <Rows title="Steps continued without meeting their controls" items={departed} head={['step', 'failed controls', 'approved by']} row={(s) => [s.step, <ul class="values">{(s.continued?.failedControls ?? []).map((c) => <Control control={{ ...c, at: '', pass: false }} />)}</ul>, s.continued?.approvedBy ? `${s.continued.approvedBy.printedName} (${s.continued.approvedBy.user})` : <span class="fail">not recorded</span>]} />
        <Rows title="Holds" items={record.holds} head={['at', 'step', 'kind', 'message', 'answered']} row={(h) => [at(h.at), h.step, h.kind, h.message, h.resolved ? 'yes' : <span class="fail">open</span>]} />
        <Rows title="Operator actions and signatures" items={record.operatorActions} head={['at', 'action', 'step', 'reason', 'signature']} row={(a) => [at(a.at), a.action, a.step || '-', a.reason, <SignatureLine signature={a.signature} />]} wide={4} />
        <Rows title="Interruptions" items={record.interruptions} head={['at', 'event', 'message']} row={(i) => [at(i.at), i.event === 'interrupted' ? 'interrupted' : `resumed${i.afterCrash ? ' after a crash' : ''}`, i.message]} />
        <Rows title="Reconciliations" items={record.reconciliations} head={['at', 'module', 'believed / actual', 'action', 'message']} row={(r) => [at(r.at), r.module, `${r.believed ?? '-'} / ${r.actual}`, r.action, r.message]} />
        <Rows title="Entries of unknown type" items={record.unrecognised} head={['at', 'type', 'data']} row={(u) => [at(u.at), u.type, u.summary]} />
      </Section>
      <Section title="Timeline" id="timeline" count={record.timeline.length}>
        {record.timeline.length === 0 ? <Empty>Nothing recorded yet.</Empty> : <Table head={['at', 'what happened']} rows={record.timeline.map((e) => [at(e.at), e.summary])} />}
      </Section>
      <Section title="Steps" id="steps" count={record.steps.length}>
        {record.steps.length === 0 ? <Empty>No step has started.</Empty> : record.steps.map((s) => <StepSection step={s} reference={reference} />)}
      </Section>
      <Section title="Chain of custody" id="custody">
        <Rows title="Transfers" items={record.transfers} head={['at', 'arm', 'from', 'to', 'scanned at pick / place']} row={(t) => [at(t.at), t.arm, t.from, t.to, `${t.scannedAtPick} / ${t.scannedAtPlace}`]} empty="No transfers." />
        <Rows title="Line clearances" items={record.lineClearances} head={['at', 'module', 'procedure', 'after batch']} row={(c) => [at(c.at), c.module, c.procedure ?? 'no SOP named', c.previousBatch ?? '-']} empty="No line clearances before this batch." />
        <Rows title="Removals by hand" items={record.removals} head={['at', 'from', 'reason', 'signature']} row={(r) => [at(r.at), r.from, r.reason, <SignatureLine signature={r.signature} />]} wide={3} />
      </Section>
      <Section title="Environmental monitoring" id="em">
        <Rows items={record.environmentalMonitoring} head={['plate', 'location', 'zone (grade)', 'exposure', 'colonies', 'limit', 'result']} row={(em) => [em.plateId, em.location, `${em.zone} (${em.grade})`, `${at(em.exposure.from)} → ${at(em.exposure.until)}`, formatValue(em.colonies, 'CFU'), formatValue(em.limit, 'CFU'), em.withinLimit ? <span class="pass">within limit</span> : <span class="fail">OVER LIMIT</span>]} empty="No settle plate read for this batch yet." />
      </Section>
      <Section title="Integrity" id="integrity">
        <p class={integrity.ok ? 'pass integrity' : 'fail integrity'} data-verified={String(integrity.ok)}>
          {integrity.ok ? 'Hash chain and signed checkpoints verified' : 'NOT intact'}: {integrity.message}
        </p>
        <Checkpoints integrity={integrity} />
        <p>
          {record.entries} entries of this batch, from <span class="hash">{record.firstHash}</span> to <span class="hash">{record.lastHash}</span>.
        </p>
      </Section>
      <Section title="QA review" id="review">
        {record.review ? (
          <p class={record.review.decision === 'approved' ? 'pass review' : 'fail review'}>
            {record.review.decision === 'approved' ? 'Approved for release' : 'Rejected'} at {at(record.review.at)}: {record.review.reason}. <SignatureLine signature={record.review.signature} /> Reviewed head <span class="hash">{record.review.reviewedHead}</span>.
          </p>
        ) : (
          <ReviewForm record={record} session={session} onReviewed={reload} />
        )}
      </Section>
    </article>
  );
}

function ReviewForm({ record, session, onReviewed }: { record: BatchRecord; session: SessionInfo; onReviewed: () => void }) {
  if (!FINISHED.has(record.status)) return <Empty>The batch is {record.status}: its record is reviewed once it has finished.</Empty>;
  if (!hasRole(session, ['qa'])) return <p class="empty no-print">Only QA reviews a record: {session.user} has the roles {session.roles.join(', ') || 'none'}.</p>;
  return (
    <div class="review-forms no-print">
      {record.status === 'completed' ? <Decision decision="approve" record={record} session={session} onReviewed={onReviewed} /> : null}
      <Decision decision="reject" record={record} session={session} onReviewed={onReviewed} />
    </div>
  );
}

function Decision({ decision, record, session, onReviewed }: { decision: 'approve' | 'reject'; record: BatchRecord; session: SessionInfo; onReviewed: () => void }) {
  return (
    <details class={`decision decision-${decision}`}>
      <summary>{decision === 'approve' ? 'Approve for release' : 'Reject the batch'}</summary>
      <SignatureForm
        session={session}
        meaning={decision === 'approve' ? 'approval of the batch record after review' : 'rejection of the batch after review of its record'}
        submitLabel={decision === 'approve' ? 'Sign: approve' : 'Sign: reject'}
        onSign={async ({ reason, password }) => {
          await api.post(`/api/batches/${segment(record.batchId)}/review`, { decision, reason, password } satisfies ReviewBody);
          onReviewed();
        }}
      />
    </details>
  );
}

/** The log's signed checkpoints as the server verified them for this batch (`workcell verify`'s check), and every break. */
function Checkpoints({ integrity }: { integrity: RecordResponse['integrity'] }) {
  const { verified, latest, uncovered, notes } = integrity.checkpoints;
  return (
    <>
      <p class={latest ? 'checkpoints' : 'checkpoints fail'} data-checkpoints={verified}>
        {latest ? `${verified} signed checkpoint(s) verified; the latest, number ${latest.number}, signed ${latest.signedAt.replace('T', ' ').slice(0, 19)} UTC (key ${latest.keyId}), covers the log up to position ${latest.upToSeq}${uncovered > 0 ? `; ${uncovered} entries of this batch since are not covered yet` : ''}.` : 'No signed checkpoint verified.'}
      </p>
      {integrity.breaks.length > 0 ? (
        <ul class="breaks fail">
          {integrity.breaks.map((b) => (
            <li data-problem={b.problem}>
              {b.problem}: {b.message}
            </li>
          ))}
        </ul>
      ) : null}
      {notes.map((note) => (
        <p class="note">{note}</p>
      ))}
    </>
  );
}

/** The signed request (the API, an MES) the batch was started from, if it was. */
function RequestedBy({ request, at }: { request: BatchRecord['identity']['request']; at: (iso: string) => string }) {
  if (!request) return null;
  return (
    <>
      <dt>Asked for by</dt>
      <dd class="requested-by">
        {request.signature.printedName} ({request.signature.user}) at {at(new Date(request.at).toISOString())}: {request.reason}. <SignatureLine signature={request.signature} /> Request at log position {request.seq}, <span class="hash">sha256 {request.hash}</span>.
      </dd>
    </>
  );
}

function where(item: { module?: string; step?: string; code?: string }): string {
  return [item.module, item.step ? `at ${item.step}` : '', item.code ? `code ${item.code}` : ''].filter(Boolean).join(' ') || '-';
}

type Cell = ComponentChildren;

function Rows<T>({ title, items, head, row, empty, wide }: { title?: string; items: readonly T[]; head: string[]; row: (item: T) => Cell[]; empty?: string; wide?: number }) {
  if (items.length === 0) return empty ? <Empty>{empty}</Empty> : null;
  return (
    <>
      {title ? <h3>{title}</h3> : null}
      <Table head={head} rows={items.map(row)} wide={wide} />
    </>
  );
}

export function Table({ head, rows, wide }: { head: string[]; rows: Cell[][]; wide?: number }) {
  return (
    <table class="grid">
      <thead>
        <tr>
          {head.map((h, i) => (
            <th class={i === 0 && h === 'at' ? 'w-at' : i === wide ? 'w-wide' : ''}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr>
            {r.map((cell) => (
              <td>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
