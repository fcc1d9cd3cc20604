import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

/**
 * uPlot (a small, dependency-free canvas chart library, MIT), served by the service itself from
 * node_modules: the status page loads nothing from elsewhere (the service may run without internet).
 * Read once, on the first request.
 */
const require = createRequire(import.meta.url);

export const CHART_SCRIPT_PATH = '/assets/uplot.js';
export const CHART_STYLE_PATH = '/assets/uplot.css';

const FILES = {
  [CHART_SCRIPT_PATH]: { file: 'uplot/dist/uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  [CHART_STYLE_PATH]: { file: 'uplot/dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
} as const;

const cache = new Map<string, Buffer>();

export function sendChartAsset(path: keyof typeof FILES, res: ServerResponse): void {
  const { file, type } = FILES[path];
  let body = cache.get(path);
  if (!body) {
    body = readFileSync(require.resolve(file));
    cache.set(path, body);
  }
  res.writeHead(200, {
    'content-type': type,
    // The file changes only with the installed version, i.e. with a restart of the service.
    'cache-control': 'max-age=3600',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}
