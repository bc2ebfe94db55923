// The bindings the edge tests see through `cloudflare:workers`.
import type { Env as EdgeEnv } from '../../edge/env.ts';
import type { D1Migration } from 'cloudflare:test';

declare global {
  namespace Cloudflare {
    interface Env extends EdgeEnv {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
