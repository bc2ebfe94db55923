// The dashboard's one way to the API: the generated typed client (shared/client), with each answer either its data or
// an ApiProblem carrying the problem+json title and detail the page shows. No other HTTP client exists here.
import { createRiverheadClient } from '../../../shared/client/index.ts';
import type { Credentials } from './session.ts';

export type RiverheadClient = ReturnType<typeof createRiverheadClient>;

/** What went wrong, as the API said it (RFC 9457), or as close as the browser can tell. */
export class ApiProblem extends Error {
  constructor(
    readonly title: string,
    readonly detail: string | undefined,
    readonly status: number | null,
    readonly fields: { field: string; message: string }[] = [],
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

export function clientFor(credentials: Credentials): RiverheadClient {
  return createRiverheadClient({ baseUrl: location.origin, auth: { id: credentials.id, secret: credentials.secret } });
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** The data of an answer, or throws its problem. A network failure (no answer at all) becomes a problem too. */
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request;
  } catch (error) {
    throw new ApiProblem('Network error', error instanceof Error ? error.message : String(error), null);
  }
  if (answer.response.ok) return answer.data as T;
  throw problemOf(answer.error, answer.response);
}

function problemOf(body: unknown, response: Response): ApiProblem {
  if (body && typeof body === 'object' && typeof (body as { title?: unknown }).title === 'string') {
    const p = body as { title: string; detail?: string; errors?: { field: string; message: string }[] };
    return new ApiProblem(p.title, p.detail, response.status, Array.isArray(p.errors) ? p.errors : []);
  }
  const text = typeof body === 'string' ? body.slice(0, 300) : undefined;
  return new ApiProblem(`HTTP ${response.status} ${response.statusText}`.trim(), text || undefined, response.status);
}

export const asProblem = (error: unknown): ApiProblem =>
  error instanceof ApiProblem ? error : new ApiProblem('Something went wrong', error instanceof Error ? error.message : String(error), null);
