/**
 * Open holds: for each, what is at stake (hold time left, the failed control and its value), the typed
 * menu (retry, skip, abort and the device's own options), and the answer signed with user id and password
 * entered for this signature and a reason. An option the user's roles cannot sign is shown disabled.
 */
import { useState } from 'preact/hooks';
import { api, segment } from '../api.ts';
import type { Hold, HoldAnswer, MenuChoice, SessionInfo } from '../api-types.ts';
import { useStatus } from '../live.ts';
import { Empty, hasRole, Pending, SignatureForm, time, timeLeft } from '../ui.tsx';

export function HoldsView({ session }: { session: SessionInfo }) {
  // The holds come with every status event: a hold the orchestrator opens shows within a second.
  const status = useStatus();
  // The last answer given here: its card leaves as soon as the log says the hold is answered.
  const [answered, setAnswered] = useState<string | null>(null);
  if (!status.data) return <Pending view="holds-view" title="Open holds" error={status.error} />;
  const now = status.data.status?.at ?? Date.now();
  const holds = status.data.holds;
  return (
    <div class="view holds-view">
      <h1>Open holds</h1>
      {answered ? (
        <p class="done" role="status">
          {answered}
        </p>
      ) : null}
      {holds.length === 0 ? <Empty>No batch is held: nothing waits for an answer.</Empty> : holds.map((h) => <HoldCard key={`${h.batchId}@${h.since}`} hold={h} now={now} session={session} onAnswered={setAnswered} />)}
    </div>
  );
}

function HoldCard({ hold, now, session, onAnswered }: { hold: Hold; now: number; session: SessionInfo; onAnswered: (message: string) => void }) {
  const [chosen, setChosen] = useState<MenuChoice | null>(null);
  const left = hold.holdTimeLeftMs;
  return (
    <article class="hold card" data-batch={hold.batchId}>
      <header>
        <h2>
          <a href={`#/batches/${encodeURIComponent(hold.batchId)}`}>{hold.batchId}</a> held at {hold.step}
        </h2>
        <span class="kind">{hold.kind}</span>
        <span class="at">since {time(hold.since, now)}</span>
      </header>
      <p class="message">{hold.message}</p>
      <dl class="stakes">
        <dt>Hold time</dt>
        <dd class={left !== null && left < 0 ? 'fail' : ''} data-stake="hold-time">
          {hold.holdTime && left !== null ? `after ${hold.holdTime.after}: ${timeLeft(left)} (until ${time(hold.holdTime.deadline, now)})` : 'no hold time running'}
        </dd>
        {hold.skipApproves ? (
          <>
            <dt>A skip approves</dt>
            <dd class="fail">{hold.skipApproves}</dd>
          </>
        ) : null}
      </dl>
      <div class="menu" role="group" aria-label="Answers">
          {hold.menu.map((choice) => {
            const allowed = hasRole(session, choice.roles);
            return (
              <button type="button" class={chosen?.option === choice.option ? 'chosen' : ''} data-option={choice.option} disabled={!allowed} title={allowed ? choice.meaning : `only ${choice.roles.join(' or ')} may sign this`} onClick={() => setChosen(choice)}>
                {choice.label}
              </button>
            );
          })}
      </div>
      {chosen ? (
        <SignatureForm
          session={session}
          meaning={chosen.meaning}
          submitLabel={`Sign: ${chosen.label.toLowerCase()}`}
          onCancel={() => setChosen(null)}
          onSign={async ({ reason, password }) => {
            await api.post(`/api/holds/${segment(hold.batchId)}/answer`, { option: chosen.option, hold: hold.hold, reason, password } satisfies HoldAnswer);
            onAnswered(`${hold.batchId}: answered "${chosen.label.toLowerCase()}" at ${hold.step}, signed by ${session.user}. The orchestrator acts on it within seconds.`);
          }}
        />
      ) : null}
    </article>
  );
}
