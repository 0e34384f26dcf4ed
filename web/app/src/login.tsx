/** The login page: user id and password, the server's sentence when it refuses (wrong password, locked out). */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { api } from './api.ts';
import { Problem } from './ui.tsx';

function Login() {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    try {
      await api.post('/api/session', { user: user.trim(), password });
      // Back to the view asked for before the login page (the redirect kept its fragment).
      location.assign(`/${location.hash}`);
    } catch (failure) {
      setError(failure);
      setPassword('');
      setBusy(false);
    }
  }
  return (
    <form class="login card" onSubmit={submit}>
      <h1>Workcell</h1>
      <p>Sign in with your user id and password.</p>
      <label>
        User id
        <input name="user" autocomplete="username" required autofocus value={user} onInput={(e) => setUser(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      <button type="submit" class="primary" disabled={busy}>
        Sign in
      </button>
      <Problem error={error} />
    </form>
  );
}

render(<Login />, document.getElementById('login')!);
