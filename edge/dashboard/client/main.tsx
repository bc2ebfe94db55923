// The dashboard's entry point (bundled by scripts/build-browser-assets.ts into /assets/dashboard-….js and .css):
// renders the app into the shell edge/dashboard/shell.ts serves.
/** @jsxImportSource hono/jsx/dom */
import { render } from 'hono/jsx/dom';
import { App } from './app.tsx';
import './styles.css';

const root = document.getElementById('dashboard');
if (root) render(<App />, root);
