// Benchmark helper processes that run our TypeScript under tsx and talk back over IPC.
import path from 'node:path';
import { root } from './inputs.ts';
import { start, type Child } from './processes.ts';

export function startHelper(file: string, env: Record<string, string> = {}): Child {
  return start(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/bench/support', file)], {
    cwd: root,
    ipc: true,
    env: { ...process.env, ...env },
  });
}

/** The next IPC message of `type` from a helper; rejects on timeout or if the helper exits first. */
export function nextMessage<T extends { type: string }>(child: Child, type: T['type'], timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T): void => {
      if (m?.type !== type) return;
      done();
      resolve(m);
    };
    const onExit = (): void => {
      done();
      reject(new Error(`helper exited before '${type}': ${child.stderr().slice(-400) || child.stdout().slice(-400)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no '${type}' from the helper within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
    };
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
  });
}
