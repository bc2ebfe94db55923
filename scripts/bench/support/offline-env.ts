// Imported first by run.ts: wrangler reads these when its module loads, so they must be set before any import of it.
// Offline and quiet like `npm start`: no Request.cf lookup, no metrics, no banner, logs under bench-results/.
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../../..');
process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false';
process.env.WRANGLER_SEND_METRICS = 'false';
process.env.WRANGLER_HIDE_BANNER = 'true';
process.env.XDG_CONFIG_HOME ??= path.join(root, '.xdg');
process.env.WRANGLER_LOG_PATH ??= path.join(root, 'bench-results', 'wrangler-logs');
