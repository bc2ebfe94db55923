// What the origin does with an error nothing caught. A rejected promise is a failed operation (a write on a full disk,
// a request that timed out): logged, and the process goes on serving. An uncaught exception left a stack unwound at
// an unknown point; one from the operating system's I/O (full disk, closed socket) left no half-changed state of ours
// and is survived too, anything else (a bug) exits after a graceful stop so a supervisor starts a clean process.
import { isDiskFullError } from './disk-guard.ts';
import { logWarn } from './log.ts';

/** System call failures that interrupt one operation and leave the process's own state consistent. */
const OPERATIONAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EAGAIN', 'EMFILE', 'ENFILE', 'ENOENT', 'EACCES', 'EROFS']);

export type CrashVerdict = 'survive' | 'exit';

/** Pure: survive rejections and operational I/O errors; exit on any other uncaught exception. */
export function crashVerdict(kind: 'unhandledRejection' | 'uncaughtException', error: unknown): CrashVerdict {
  if (kind === 'unhandledRejection') return 'survive';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && OPERATIONAL_CODES.has(code)) return 'survive';
  return isDiskFullError(error) ? 'survive' : 'exit';
}

const describe = (error: unknown) =>
  error instanceof Error ? { error: error.message.slice(0, 500), code: (error as { code?: unknown }).code ?? null, stack: error.stack?.split('\n').slice(0, 6).join('\n') } : { error: String(error).slice(0, 500) };

export interface CrashPolicyHooks {
  /** a write ran out of space: the disk guard goes to full */
  onDiskFull?: (where: string) => void;
  /** a bug: stop gracefully, then exit non-zero */
  onFatal: (reason: string) => void;
}

/** Installs the process-wide handlers; returns a function that removes them (tests). */
export function installCrashPolicy(hooks: CrashPolicyHooks): () => void {
  const handle = (kind: 'unhandledRejection' | 'uncaughtException') => (error: unknown) => {
    const verdict = crashVerdict(kind, error);
    logWarn(kind === 'unhandledRejection' ? 'unhandled_rejection' : 'uncaught_exception', { verdict, ...describe(error) });
    if (isDiskFullError(error)) hooks.onDiskFull?.(kind);
    if (verdict === 'exit') hooks.onFatal(`${kind}: ${error instanceof Error ? error.message : String(error)}`);
  };
  const onRejection = handle('unhandledRejection');
  const onException = handle('uncaughtException');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
