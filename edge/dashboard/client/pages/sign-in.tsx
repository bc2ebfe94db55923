// Sign in with a workspace access token (its id and secret): checked with one API call, then kept in this tab's
// sessionStorage only.
/** @jsxImportSource hono/jsx/dom */
import { useState } from 'hono/jsx/dom';
import { ApiProblem, asProblem, call, clientFor } from '../api.ts';
import { saveCredentials, type Credentials } from '../session.ts';
import { ProblemBanner } from '../ui.tsx';

export function SignInPage({ onSignedIn }: { onSignedIn: (credentials: Credentials) => void }) {
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const credentials = { id: String(form.get('tokenId') ?? '').trim(), secret: String(form.get('tokenSecret') ?? '').trim() };
    if (!credentials.id || !credentials.secret) return setProblem(new ApiProblem('Both fields are needed', 'the access token id and its secret', null));
    setBusy(true);
    setProblem(null);
    try {
      await call(clientFor(credentials).GET('/v1/live/streams', { params: { query: { limit: 1 } } }));
      saveCredentials(credentials);
      onSignedIn(credentials);
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form class="card form" onSubmit={submit}>
        <h1>Riverhead</h1>
        <p class="muted">Sign in with a workspace access token. It stays in this browser tab only.</p>
        <label>
          Access token id
          <input name="tokenId" autocomplete="username" required />
        </label>
        <label>
          Secret
          <input name="tokenSecret" type="password" autocomplete="current-password" required />
        </label>
        <ProblemBanner problem={problem} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
