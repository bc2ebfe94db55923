// Entry of the SRT worker thread. Node 20 cannot start a worker from a .ts file, and tsx's ESM hooks do not reach
// worker threads; its require hook (installed by `--import tsx` in the worker's execArgv) does, so worker.ts is
// required from here.
require('./worker.ts');
