// The dashboard: sign-in gate, navigation, and the page for the current path; an unexpected error in a page shows as
// a message, never a blank page.
/** @jsxImportSource hono/jsx/dom */
import { ErrorBoundary, useMemo, useState } from 'hono/jsx/dom';
import { call, clientFor, type RiverheadClient } from './api.ts';
import { DestinationsPage } from './pages/destinations.tsx';
import { EventPage, EventsPage } from './pages/events.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { StreamPage } from './pages/stream.tsx';
import { StreamsPage } from './pages/streams.tsx';
import { VideoPage, VideosPage } from './pages/videos.tsx';
import { WebhookPage, WebhooksPage } from './pages/webhooks.tsx';
import { navigate, useLocation } from './router.ts';
import { forgetSession, savedCredentials, savedPreviewKey, type Credentials } from './session.ts';
import { Link } from './ui.tsx';

const NAV = [
  ['streams', 'Live streams'],
  ['events', 'Events'],
  ['videos', 'Videos'],
  ['destinations', 'Destinations'],
  ['webhooks', 'Webhooks'],
] as const;

export function App() {
  const [credentials, setCredentials] = useState<Credentials | null>(savedCredentials());
  const client = useMemo(() => (credentials ? clientFor(credentials) : null), [credentials?.id, credentials?.secret]);
  const { path, query } = useLocation();
  if (!credentials || !client) return <SignInPage onSignedIn={setCredentials} />;
  const section = path.split('/')[1] ?? '';
  const signOut = async () => {
    // The preview signing key this session made goes with it (best effort: signing out never waits on the API).
    const previewKey = savedPreviewKey();
    if (previewKey) {
      void call(client.DELETE('/v1/signing-keys/{signingKeyId}', { params: { path: { signingKeyId: previewKey.signingKeyId } } })).catch(() => undefined);
    }
    forgetSession();
    setCredentials(null);
    navigate('/dashboard');
  };
  return (
    <div class="layout">
      <header class="top">
        <Link href="/dashboard/streams" class="brand">
          Riverhead
        </Link>
        <nav>
          {NAV.map(([key, label]) => (
            <Link href={`/dashboard/${key}`} class={section === key || (section === '' && key === 'streams') ? 'active' : ''}>
              {label}
            </Link>
          ))}
        </nav>
        <button type="button" class="link sign-out" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main class="content">
        <ErrorBoundary fallbackRender={(error) => <div class="problem" role="alert"><strong>This page failed</strong><p>{String(error)}</p></div>}>
          <Page client={client} path={path} query={query} />
        </ErrorBoundary>
      </main>
    </div>
  );
}

function Page({ client, path, query }: { client: RiverheadClient; path: string; query: URLSearchParams }) {
  const [, section, id] = path.split('/');
  switch (section) {
    case undefined:
    case '':
    case 'streams':
      return id ? <StreamPage client={client} streamId={id} /> : <StreamsPage client={client} status={query.get('status')} />;
    case 'events':
      return id ? <EventPage client={client} eventId={id} /> : <EventsPage client={client} />;
    case 'videos':
      return id ? <VideoPage client={client} videoId={id} /> : <VideosPage client={client} />;
    case 'destinations':
      return <DestinationsPage client={client} streamId={query.get('stream')} />;
    case 'webhooks':
      return id ? <WebhookPage client={client} webhookId={id} status={query.get('status')} /> : <WebhooksPage client={client} />;
    default:
      return (
        <div class="problem">
          <strong>Not found</strong>
          <p>There is no dashboard page at {path}.</p>
        </div>
      );
  }
}
