import type { Registry } from 'prom-client';
import { LookupInputError, parseLookupQuery } from '../monitor/lookup.js';
import type { Monitor } from '../monitor/monitor.js';
import { CHART_SCRIPT_PATH, CHART_STYLE_PATH, sendChartAsset } from './chart-assets.js';
import { type HttpRoutes, send } from './http.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const json = (value: unknown) => `${JSON.stringify(value)}\n`;

/**
 * GET /metrics (Prometheus text of the service's registry), GET /status (JSON), GET /status/history
 * (the charts' points), GET /lookup?q= (audit history of a queue_id or tx hash, an address's
 * deposits and payouts), GET / (the status page) and the chart library it loads.
 */
export function monitorRoutes(deps: {
  registry: Registry;
  /** Without history or lookup (a page rendered from a fixed snapshot), those routes are left out. */
  monitor: Pick<Monitor, 'status'> & Partial<Pick<Monitor, 'history' | 'lookup'>>;
}): HttpRoutes {
  const { history, lookup } = deps.monitor;
  return {
    '/metrics': async (_req, res) => {
      send(res, 200, await deps.registry.metrics(), deps.registry.contentType);
    },
    '/status': (_req, res) => {
      send(res, 200, json(deps.monitor.status()), JSON_TYPE);
    },
    ...(history && {
      '/status/history': (_req, res) => {
        send(res, 200, json(history()), JSON_TYPE);
      },
    }),
    ...(lookup && { '/lookup': lookupRoute(lookup) }),
    [CHART_SCRIPT_PATH]: (_req, res) => sendChartAsset(CHART_SCRIPT_PATH, res),
    [CHART_STYLE_PATH]: (_req, res) => sendChartAsset(CHART_STYLE_PATH, res),
    '/': (_req, res) => {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': STATUS_PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(STATUS_PAGE_HTML);
    },
  };
}

/** GET /lookup?q=…: 400 with a JSON `error` naming what q should be, else the lookup's JSON. */
function lookupRoute(lookup: Monitor['lookup']): HttpRoutes[string] {
  return async (req, res) => {
    const q = new URL(req.url ?? '/', 'http://localhost').searchParams.get('q');
    let query: ReturnType<typeof parseLookupQuery>;
    try {
      query = parseLookupQuery(q);
    } catch (err) {
      if (err instanceof LookupInputError) return send(res, 400, json({ error: err.message }), JSON_TYPE);
      throw err;
    }
    send(res, 200, json(await lookup(query)), JSON_TYPE);
  };
}
