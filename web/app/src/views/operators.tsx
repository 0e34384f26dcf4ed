/**
 * Operators: who may sign what. An admin enrols and disables (each signed with the admin's password);
 * everyone changes their own password. Controls a user's roles cannot use are not shown.
 */
import { useState } from 'preact/hooks';
import { api, segment } from '../api.ts';
import type { DisableBody, EnrolBody, Operator, PasswordBody, Role, SessionInfo } from '../api-types.ts';
import { useApi } from '../live.ts';
import { Empty, hasRole, Problem, Section, SignatureForm } from '../ui.tsx';
import { Table } from './record.tsx';

const ROLES: Role[] = ['operator', 'qa', 'admin'];

export function OperatorsView({ session }: { session: SessionInfo }) {
  const { data, error, reload } = useApi<Operator[]>('/api/operators', { live: true });
  const admin = hasRole(session, ['admin']);
  const [disabling, setDisabling] = useState<string | null>(null);
  return (
    <div class="view operators-view">
      <h1>Operators</h1>
      <Problem error={error} />
      {data ? (
        data.length === 0 ? (
          <Empty>No operator is enrolled.</Empty>
        ) : (
          <Table
            head={['user', 'printed name', 'roles', 'enrolled', 'status', '']}
            rows={data.map((o) => [
              o.user,
              o.printedName,
              o.roles.join(', '),
              `${o.enrolledAt.slice(0, 10)}${o.enrolledBy ? ` by ${o.enrolledBy}` : ''}`,
              o.disabled ? <span class="fail">disabled {o.disabled.at.slice(0, 10)} by {o.disabled.by}: {o.disabled.reason}</span> : 'active',
              admin && !o.disabled && o.user !== session.user ? (
                <button type="button" data-disable={o.user} onClick={() => setDisabling(o.user)}>
                  Disable
                </button>
              ) : (
                ''
              ),
            ])}
          />
        )
      ) : null}
      {disabling ? (
        <Section title={`Disable ${disabling}`}>
          <SignatureForm
            session={session}
            meaning="approval to withdraw an operator's authority to sign"
            submitLabel={`Sign: disable ${disabling}`}
            onCancel={() => setDisabling(null)}
            onSign={async ({ reason, password }) => {
              await api.post(`/api/operators/${segment(disabling)}/disable`, { reason, password } satisfies DisableBody);
              setDisabling(null);
              reload();
            }}
          />
        </Section>
      ) : null}
      {admin ? <EnrolForm session={session} onEnrolled={reload} /> : null}
      <PasswordForm />
    </div>
  );
}

function EnrolForm({ session, onEnrolled }: { session: SessionInfo; onEnrolled: () => void }) {
  const [user, setUser] = useState('');
  const [printedName, setPrintedName] = useState('');
  const [roles, setRoles] = useState<Role[]>(['operator']);
  const [initial, setInitial] = useState('');
  const [done, setDone] = useState('');
  return (
    <Section title="Enrol an operator">
      <div class="enrol">
        <div class="row">
          <label>
            User id
            <input name="new-user" value={user} onInput={(e) => setUser(e.currentTarget.value)} />
          </label>
          <label>
            Printed name
            <input name="printed-name" value={printedName} onInput={(e) => setPrintedName(e.currentTarget.value)} />
          </label>
          <label>
            Initial password
            <input name="initial-password" type="password" autocomplete="new-password" value={initial} onInput={(e) => setInitial(e.currentTarget.value)} />
          </label>
        </div>
        <fieldset class="row roles">
          <legend>Roles</legend>
          {ROLES.map((role) => (
            <label class="inline">
              <input type="checkbox" checked={roles.includes(role)} onChange={(e) => setRoles(e.currentTarget.checked ? [...roles, role] : roles.filter((r) => r !== role))} /> {role}
            </label>
          ))}
        </fieldset>
        <SignatureForm
          session={session}
          meaning="approval of an operator enrolment"
          submitLabel="Sign: enrol"
          withReason={false}
          onSign={async ({ password }) => {
            await api.post('/api/operators', { user: user.trim(), printedName: printedName.trim(), roles, initialPassword: initial, password } satisfies EnrolBody);
            setDone(`Enrolled ${user.trim()} (${roles.join(', ')}).`);
            setUser('');
            setPrintedName('');
            setInitial('');
            onEnrolled();
          }}
        />
        {done ? <p role="status">{done}</p> : null}
      </div>
    </Section>
  );
}

function PasswordForm() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState('');
  async function submit(event: Event) {
    event.preventDefault();
    setDone('');
    if (next !== again) return setError(new Error('the two new passwords differ'));
    try {
      await api.post('/api/operators/me/password', { current, next } satisfies PasswordBody);
      setError(null);
      setDone('Your password is changed: sign with the new one from now on.');
      setCurrent('');
      setNext('');
      setAgain('');
    } catch (failure) {
      setError(failure);
    }
  }
  return (
    <Section title="Change my password">
      <form class="password-form" onSubmit={submit}>
        <div class="row">
          <label>
            Current password
            <input type="password" name="current" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
          </label>
          <label>
            New password
            <input type="password" name="next" autocomplete="new-password" required value={next} onInput={(e) => setNext(e.currentTarget.value)} />
          </label>
          <label>
            New password again
            <input type="password" name="again" autocomplete="new-password" required value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
          </label>
        </div>
        <button type="submit">Change password</button>
        <Problem error={error} />
        {done ? <p role="status">{done}</p> : null}
      </form>
    </Section>
  );
}
