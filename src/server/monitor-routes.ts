import type { Registry } from 'prom-client';
import type { Monitor } from '../monitor/monitor.js';
import { type HttpRoutes, send } from './http.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page.js';

/** GET /metrics (Prometheus text of the service's registry), GET /status (JSON), GET / (the status page). */
export function monitorRoutes(deps: { registry: Registry; monitor: Pick<Monitor, 'status'> }): HttpRoutes {
  return {
    '/metrics': async (_req, res) => {
      send(res, 200, await deps.registry.metrics(), deps.registry.contentType);
    },
    '/status': (_req, res) => {
      send(res, 200, `${JSON.stringify(deps.monitor.status())}\n`, 'application/json; charset=utf-8');
    },
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
