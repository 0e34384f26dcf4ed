/** Pieces every view uses: times as people read them, the signature form (21 CFR 11.200), messages. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { timeOfDay } from '../../../drivers/clock.ts';
import { durationText } from '../../../orchestrator/quantity-format.ts';
import { ApiError } from './api.ts';
import type { Role, SessionInfo, Signature } from './api-types.ts';

export const time = (at: number | string | null | undefined, reference?: number) => (at === null || at === undefined ? '-' : timeOfDay(typeof at === 'string' ? Date.parse(at) : at, reference ?? Date.now()));

/** `3 h 20 min left` / `exceeded by 5 min`, from the ms left (negative: past). */
export function timeLeft(leftMs: number): string {
  const seconds = leftMs / 1000;
  return seconds >= 0 ? `${durationText(seconds)} left` : `exceeded by ${durationText(-seconds)}`;
}

export const hasRole = (session: SessionInfo, roles: readonly Role[]) => session.roles.some((r) => roles.includes(r));

/** The server's sentence as it said it, begun as a sentence: `refused: ...` reads `Refused: ...`. */
export const asSentence = (message: string) => message.charAt(0).toUpperCase() + message.slice(1);

export function Problem({ error }: { error: unknown }) {
  if (!error) return null;
  const status = error instanceof ApiError ? error.status : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <p class="problem" role="alert" data-status={status}>
      {asSentence(message)}
    </p>
  );
}

export function Section({ title, id, children, count }: { title: string; id?: string; count?: number; children: ComponentChildren }) {
  return (
    <section class="section" id={id}>
      <h2>
        {title}
        {count !== undefined ? <span class="count">{count}</span> : null}
      </h2>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function SignatureLine({ signature }: { signature: Signature | null }) {
  if (!signature) return <span class="signature open">not signed</span>;
  return (
    <span class="signature">
      Signed by <b>{signature.printedName}</b> ({signature.user}) at {signature.signedAt}; meaning: {signature.meaning}; content <span class="hash">sha256 {signature.contentHash}</span>
    </span>
  );
}

export interface SignedInput {
  /** Empty when the form asks for none (an enrolment is signed without one). */
  reason: string;
  password: string;
}

/**
 * The two components of a signature entered for this signing (user id and password), with its meaning
 * shown and a reason required. The user id must be the session's: one signs only as oneself. `children`:
 * the fields of what is signed, in the same form, so that the browser checks them with the signature's.
 */
export function SignatureForm({ session, meaning, submitLabel, onSign, onCancel, withReason = true, children }: { session: SessionInfo; meaning: string; submitLabel: string; onSign: (input: SignedInput) => Promise<void>; onCancel?: () => void; withReason?: boolean; children?: ComponentChildren }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    if (user.trim() !== session.user) return setError(new Error(`sign as yourself: you are signed in as ${session.user}`));
    if (withReason && !reason.trim()) return setError(new Error('give a reason: every signature is recorded with why'));
    setBusy(true);
    setError(null);
    try {
      await onSign({ reason: reason.trim(), password });
      setPassword('');
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="signature-form" onSubmit={submit}>
      {children}
      <p class="meaning">
        Meaning of this signature: <b>{meaning}</b>
      </p>
      {withReason ? (
        <label>
          Reason
          <textarea name="reason" required rows={2} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </label>
      ) : null}
      <div class="row">
        <label>
          User id
          <input name="user" autocomplete="username" required value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
      </div>
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {submitLabel}
        </button>
        {onCancel ? (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
      <Problem error={error} />
    </form>
  );
}

/** A view whose data has not come: its frame and title, and the loading line or why it failed. */
export function Pending({ view, title, error }: { view: string; title: string; error: unknown }) {
  return (
    <div class={`view ${view}`}>
      <h1>{title}</h1>
      {error ? <Problem error={error} /> : <p class="loading">Loading…</p>}
    </div>
  );
}
