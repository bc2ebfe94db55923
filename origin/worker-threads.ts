// Where a worker thread's entry file is and what the thread needs to load it, whether the origin runs from its
// TypeScript sources (tsx) or compiled to JavaScript (origin/dist by `npm run build:origin`, no tsx installed).
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** True when this code is the compiled JavaScript: then every module, worker entries included, is a .js file. */
export const RUNNING_COMPILED = import.meta.url.endsWith('.js');

/** The path of the worker entry `stem` next to the module at `moduleUrl`: its .js when compiled, else its .ts. */
export function workerEntryPath(moduleUrl: string, stem: string): string {
  return fileURLToPath(new URL(`./${stem}${RUNNING_COMPILED ? '.js' : '.ts'}`, moduleUrl));
}

/**
 * Compiled JavaScript needs nothing. From sources, worker threads inherit the parent's execArgv, so under
 * `node --import tsx` a .ts worker just loads; elsewhere (vitest's runner) tsx's loader is added, by absolute URL so
 * the process's working directory does not matter.
 */
export function workerExecArgv(): string[] | undefined {
  if (RUNNING_COMPILED) return undefined;
  if (process.execArgv.some((a) => a.includes('tsx'))) return undefined;
  const loader = createRequire(import.meta.url).resolve('tsx');
  return [...process.execArgv, '--import', pathToFileURL(loader).href];
}
