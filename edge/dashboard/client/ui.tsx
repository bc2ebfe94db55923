// The dashboard's small building blocks: a problem banner, copyable (and hideable) values, confirmations, badges,
// polled list tables and their status filter.
/** @jsxImportSource hono/jsx/dom */
import { useState, type Child } from 'hono/jsx/dom';
import { asProblem, type ApiProblem } from './api.ts';
import { follow, navigate } from './router.ts';

/** An API error as its problem+json title and detail (and the fields at fault), never a blank page. */
export function ProblemBanner({ problem }: { problem: ApiProblem | null | undefined }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.title}</strong>
      {problem.status ? <span class="muted"> ({problem.status})</span> : null}
      {problem.detail ? <p>{problem.detail}</p> : null}
      {problem.fields.length ? (
        <ul>
          {problem.fields.map((f) => (
            <li>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Link({ href, children, class: className }: { href: string; children?: Child; class?: string }) {
  return (
    <a href={href} class={className} onClick={follow}>
      {children}
    </a>
  );
}

async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // not a secure context, or no permission: the value stays selectable on the page
  }
}

/** A read-only value with a Copy button; a secret one shows dots until "Reveal". */
export function CopyField({ label, value, secret = false }: { label: string; value: string; secret?: boolean }) {
  const [revealed, setRevealed] = useState(!secret);
  const [copied, setCopied] = useState(false);
  return (
    <div class="copy-field">
      <span class="label">{label}</span>
      <code class="value" data-secret={secret ? 'true' : undefined}>
        {revealed ? value : '•'.repeat(Math.min(24, Math.max(8, value.length)))}
      </code>
      <span class="actions">
        {secret ? (
          <button type="button" class="small" onClick={() => setRevealed(!revealed)}>
            {revealed ? 'Hide' : 'Reveal'}
          </button>
        ) : null}
        <button
          type="button"
          class="small"
          onClick={async () => {
            setCopied(await copy(value));
            setTimeout(() => setCopied(false), 1500);
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
      </span>
    </div>
  );
}

/** An action run once at a time: busy while it runs, its problem (if any) kept to show beside the button. */
function useAction(action: () => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const run = async (): Promise<void> => {
    setBusy(true);
    setProblem(null);
    try {
      await action();
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return { busy, problem, setProblem, run };
}

/**
 * A button that asks first: the first click shows "Confirm"/"Cancel"; the action's problem, if any, shows beside it.
 */
export function ConfirmButton({
  label,
  question,
  action,
  danger = false,
}: {
  label: string;
  question: string;
  action: () => Promise<unknown>;
  danger?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const { busy, problem, setProblem, run } = useAction(action);
  if (!asking) {
    return (
      <span class="confirm">
        <button type="button" class={danger ? 'danger' : ''} onClick={() => (setProblem(null), setAsking(true))}>
          {label}
        </button>
        <ProblemBanner problem={problem} />
      </span>
    );
  }
  return (
    <span class="confirm asking">
      <span>{question}</span>
      <button type="button" class={danger ? 'danger' : 'primary'} disabled={busy} onClick={async () => (await run(), setAsking(false))}>
        Confirm
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A button running an action once per click (disabled meanwhile), its problem shown beside it. */
export function ActionButton({ label, action, primary = false }: { label: string; action: () => Promise<unknown>; primary?: boolean }) {
  const { busy, problem, run } = useAction(action);
  return (
    <span class="confirm">
      <button type="button" class={primary ? 'primary' : ''} disabled={busy} onClick={run}>
        {label}
      </button>
      <ProblemBanner problem={problem} />
    </span>
  );
}

const TONES: Record<string, string> = {
  STREAMING: 'live',
  RECORDING: 'live',
  LIVE: 'live',
  live: 'live',
  ready: 'ok',
  succeeded: 'ok',
  COMPLETED: 'ok',
  DISCONNECTED: 'warn',
  retrying: 'warn',
  connecting: 'warn',
  processing: 'warn',
  waiting: 'warn',
  pending: 'warn',
  ERROR: 'bad',
  failed: 'bad',
  disabled: 'muted',
  healthy: 'ok',
  enabled: 'ok',
  failing: 'bad',
  unhealthy: 'bad',
};

export function Badge({ value }: { value: string }) {
  return (
    <span class={`badge ${TONES[value] ?? ''}`} data-status={value}>
      {value}
    </span>
  );
}

export function When({ at }: { at: string | number | null | undefined }) {
  if (at === null || at === undefined) return <span class="muted">—</span>;
  const date = new Date(at);
  return <time dateTime={date.toISOString()} title={date.toISOString()}>{date.toLocaleString()}</time>;
}

export const seconds = (value: number | null | undefined): string => (value === null || value === undefined ? '—' : `${value.toFixed(1)} s`);
export const bytes = (value: number | null | undefined): string => {
  if (value === null || value === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = value;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) (v /= 1000), i++;
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};
export const bitrate = (bitsPerSecond: number | null | undefined): string =>
  bitsPerSecond === null || bitsPerSecond === undefined ? '—' : `${(bitsPerSecond / 1000).toFixed(0)} kb/s`;

export function Section({ title, children, actions }: { title: string; children?: Child; actions?: Child }) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{title}</h2>
        {actions ? <div class="card-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** Shows the problem, or a quiet "Loading…" before the first answer, or the content. */
export function Loaded<T>({ polled, render }: { polled: { data: T | undefined; problem: ApiProblem | null }; render: (data: T) => Child }) {
  return (
    <>
      <ProblemBanner problem={polled.problem} />
      {polled.data === undefined ? polled.problem ? null : <p class="muted">Loading…</p> : render(polled.data)}
    </>
  );
}

/**
 * A polled list as a table: its problem, "Loading…", the empty message, or one row per item under the column heads
 * (the `wide` ones hide on a phone; `actions` adds a blank head over a last column of buttons).
 */
export function ListTable<T>({
  polled,
  empty,
  heads,
  wide = [],
  actions = false,
  row,
}: {
  polled: { data: T[] | undefined; problem: ApiProblem | null };
  empty: Child;
  heads: string[];
  wide?: string[];
  actions?: boolean;
  row: (item: T) => Child;
}) {
  return (
    <Loaded
      polled={polled}
      render={(list) =>
        list.length === 0 ? (
          <p class="muted">{empty}</p>
        ) : (
          <table class="list">
            <thead>
              <tr>
                {heads.map((h) => (
                  <th>{h}</th>
                ))}
                {wide.map((h) => (
                  <th class="wide">{h}</th>
                ))}
                {actions ? <th /> : null}
              </tr>
            </thead>
            <tbody>{list.map(row)}</tbody>
          </table>
        )
      }
    />
  );
}

/** A "Status" select over a list ("All" first); picking one navigates to the path `to` gives ('' for All). */
export function StatusFilter({ statuses, value, to }: { statuses: readonly string[]; value: string | undefined; to: (status: string) => string }) {
  return (
    <label class="inline">
      Status{' '}
      <select name="status" value={value ?? ''} onChange={(e: Event) => navigate(to((e.target as HTMLSelectElement).value))}>
        <option value="">All</option>
        {statuses.map((s) => (
          <option value={s} selected={s === value}>
            {s}
          </option>
        ))}
      </select>
    </label>
  );
}
