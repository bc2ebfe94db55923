// Data that keeps itself current: loads now, then every `everyMs` while the page shows it (never two loads at once,
// stopped when the component goes away); `reload()` after an action. Errors are kept beside the last good data.
import { useCallback, useEffect, useRef, useState } from 'hono/jsx/dom';
import { asProblem, type ApiProblem } from './api.ts';

export interface Polled<T> {
  data: T | undefined;
  problem: ApiProblem | null;
  reload: () => Promise<void>;
}

export function usePoll<T>(load: () => Promise<T>, everyMs: number | null, deps: readonly unknown[]): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const busy = useRef(false);
  const again = useRef(false);
  const generation = useRef(0);
  const run = useCallback(async (): Promise<void> => {
    // A reload asked for during a load runs once more after it: the load in flight may predate the action.
    if (busy.current) {
      again.current = true;
      return;
    }
    busy.current = true;
    const mine = generation.current;
    try {
      const value = await load();
      if (mine === generation.current) {
        setData(() => value);
        setProblem(null);
      }
    } catch (error) {
      if (mine === generation.current) setProblem(asProblem(error));
    } finally {
      busy.current = false;
    }
    if (again.current && mine === generation.current) {
      again.current = false;
      await run();
    }
  }, deps);
  useEffect(() => {
    generation.current++;
    busy.current = false;
    again.current = false;
    setData(undefined);
    setProblem(null);
    void run();
    if (everyMs === null) return;
    const timer = setInterval(() => {
      if (!document.hidden) void run();
    }, everyMs);
    return () => clearInterval(timer);
  }, deps);
  return { data, problem, reload: run };
}
