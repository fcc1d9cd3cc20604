/*
 * The status page's trends and lookup, appended to its script (src/server/status-page.ts) and so
 * using its helpers (el, $, badge, mono, short, clip, table). The charts are drawn by uPlot, served by
 * the service at assets/uplot.js; each chart's box carries its points as data attributes
 * (data-points, data-last) and window.statusCharts holds the uPlot instances, for a script or a test
 * to read what is drawn. Every value from the service goes in as text, never as HTML.
 * Written without template literals so it can live in this TypeScript string as it is.
 */

export const CHARTS_STYLE = `
#charts{display:grid;gap:.8rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,340px),1fr))}
.chart{min-width:0}.chart h3{font-size:.8rem;font-weight:500;color:var(--muted);margin:0 0 .2rem}
.uplot{font-family:inherit;color:var(--fg)}.uplot .u-legend{font-size:.75rem}
#lookup{display:flex;gap:.5rem;flex-wrap:wrap;margin-bottom:.6rem}
#lookup-q{flex:1 1 28ch;min-width:0;padding:.35rem .5rem;border:1px solid var(--line);border-radius:6px;
background:var(--bg);color:var(--fg);font:inherit;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
#lookup button{padding:.35rem .9rem;border:1px solid var(--line);border-radius:6px;background:var(--info-bg);color:var(--info);font:inherit;cursor:pointer}
button.link{border:0;background:none;padding:0;color:var(--info);cursor:pointer;font:inherit;text-decoration:underline}
#lookup-history td:last-child{white-space:normal;overflow-wrap:anywhere;min-width:28ch}
#lookup-result h3{font-size:.85rem;margin:.6rem 0 .3rem}
`;

export const CHARTS_SCRIPT = `
var HISTORY_MS = 5000;
var COLORS = ['#0b5cad', '#1a7f37', '#c0262d', '#9a6700', '#8250df', '#bf3989', '#1b7c83'];
var statusCharts = {};
window.statusCharts = statusCharts;

function chartWidth() { var box = $('charts'); var cols = Math.max(1, Math.floor(box.clientWidth / 340)); return Math.max(220, Math.floor(box.clientWidth / cols) - 16); }
/* From the data, not from uPlot's guess (a single point would get a range of years). */
function xRange(u, min, max) {
  var t = u.data[0];
  if (!t || !t.length) return [min, max];
  var last = t[t.length - 1];
  return [Math.min(t[0], last - 1800), last + 30];
}
/* One chart: its series share the time axis t (unix seconds); drawn again only when its series change. */
function drawChart(key, title, t, series) {
  if (typeof uPlot !== 'function') return;
  var data = [t].concat(series.map(function (s) { return s.values; }));
  var sig = series.map(function (s) { return s.label; }).join('|');
  var c = statusCharts[key];
  if (!c || c.sig !== sig) {
    if (c) { c.u.destroy(); c.box.remove(); }
    var box = el('div', { class: 'chart', 'data-chart': key }, el('h3', null, title));
    $('charts').appendChild(box);
    var opts = {
      width: chartWidth(), height: 150,
      /* At least half an hour wide, so a young history is a point at the right, not a stretched axis. */
      scales: { x: { time: true, range: xRange } },
      legend: { live: false },
      series: [{}].concat(series.map(function (s, i) {
        return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 5 } };
      })),
      axes: [{ stroke: '#8a94a3' }, { stroke: '#8a94a3', size: 56 }]
    };
    c = statusCharts[key] = { u: new uPlot(opts, data, box), sig: sig, box: box };
  } else c.u.setData(data);
  c.box.setAttribute('data-points', String(t.length));
  c.box.setAttribute('data-last', JSON.stringify(series.map(function (s) { return s.values.length ? s.values[s.values.length - 1] : null; })));
}
function renderHistory(h) {
  var t = h.t.map(function (ms) { return ms / 1000; });
  var perStep = h.stepMs === 60000 ? ' per minute' : ' per ' + Math.round(h.stepMs / 1000) + ' s';
  drawChart('activity', 'Deposits and payouts' + perStep, t, [{ label: 'deposits', values: h.deposits }, { label: 'payouts', values: h.payouts }]);
  drawChart('lag', 'Watcher lag (blocks)', t, Object.keys(h.lag).map(function (k) { return { label: k, values: h.lag[k] }; }));
  drawChart('backlog', 'Outbox backlog', t, [{ label: 'responses to publish', values: h.outboxBacklog }]);
  Object.keys(h.balances).sort().forEach(function (k) {
    drawChart('balance:' + k, 'Collection wallet ' + k, t, [{ label: k, values: h.balances[k] }]);
  });
  $('charts').setAttribute('data-loaded', 'true');
}
function pollHistory() {
  fetch('status/history', { cache: 'no-store' })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(renderHistory)
    .catch(function () {})
    .then(function () { setTimeout(pollHistory, HISTORY_MS); });
}
window.addEventListener('resize', function () {
  var w = chartWidth();
  Object.keys(statusCharts).forEach(function (k) { statusCharts[k].u.setSize({ width: w, height: 150 }); });
});

function lookupLink(text) {
  var b = el('button', { class: 'link mono', type: 'button', title: text }, short(text));
  b.addEventListener('click', function () { $('lookup-q').value = text; runLookup(); });
  return b;
}
function detailText(d) { return d === null || d === undefined ? '' : typeof d === 'string' ? d : JSON.stringify(d); }
function showLookup(r) {
  var box = $('lookup-result');
  box.replaceChildren();
  var parts = [];
  if (r.history.length) {
    parts.push(el('h3', null, 'Audit history (' + r.history.length + ')'), el('div', { id: 'lookup-history', class: 'rows' }));
  }
  if (r.deposits.length) parts.push(el('h3', null, 'Deposits to this address (newest ' + r.limit + ' at most)'), el('div', { id: 'lookup-deposits', class: 'rows' }));
  if (r.payouts.length) parts.push(el('h3', null, 'Payouts from or to this address (newest ' + r.limit + ' at most)'), el('div', { id: 'lookup-payouts', class: 'rows' }));
  if (!parts.length) parts.push(el('p', { class: 'none' }, 'Nothing found for this ' + r.query.kind.replace('_', ' ')));
  parts.forEach(function (p) { box.appendChild(p); });
  if (r.history.length) table('lookup-history', [{ label: 'When' }, { label: 'Subject' }, { label: 'Ref' }, { label: 'Change' }, { label: 'Tx' }, { label: 'Block', num: true }, { label: 'Detail' }],
    r.history.map(function (e) {
      return [e.at.replace('T', ' ').replace('Z', ''), e.subject, e.subject === 'payout' ? lookupLink(e.ref) : clip(e.ref),
        el('span', null, e.from ? badge(e.from) : '(new)', ' \\u2192 ', badge(e.to)), e.txHash ? lookupLink(e.txHash) : '\\u2013',
        e.block === null ? '\\u2013' : num(e.block), el('span', { class: 'sub' }, detailText(e.detail))];
    }), '', true);
  if (r.deposits.length) table('lookup-deposits', [{ label: 'When' }, { label: 'Chain' }, { label: 'Amount', num: true }, { label: 'From' }, { label: 'Status' }, { label: 'Tx' }],
    r.deposits.map(function (d) {
      return [d.at.replace('T', ' ').replace('Z', ''), d.chain, (d.amount === null ? d.amountRaw + ' raw' : d.amount) + ' ' + d.symbol, mono(short(d.from), d.from), badge(d.status), lookupLink(d.txHash)];
    }), '', true);
  if (r.payouts.length) table('lookup-payouts', [{ label: 'When' }, { label: 'Chain' }, { label: 'Queue id' }, { label: 'Amount', num: true }, { label: 'From' }, { label: 'To' }, { label: 'State' }],
    r.payouts.map(function (p) {
      return [p.at.replace('T', ' ').replace('Z', ''), p.chain, lookupLink(p.queueId), p.amount + ' ' + p.symbol, mono(short(p.from), p.from), mono(short(p.to), p.to),
        el('span', null, badge(p.state), p.error ? ' ' + p.error : '')];
    }), '', true);
  box.setAttribute('data-count', String(r.history.length + r.deposits.length + r.payouts.length));
  box.setAttribute('data-state', 'done');
}
function runLookup() {
  var q = $('lookup-q').value;
  var box = $('lookup-result');
  box.setAttribute('data-state', 'loading');
  fetch('lookup?q=' + encodeURIComponent(q), { cache: 'no-store' })
    .then(function (r) {
      return r.json().then(function (body) { if (!r.ok) throw new Error(body.error || 'HTTP ' + r.status); return body; });
    })
    .then(showLookup)
    .catch(function (e) {
      box.replaceChildren(el('p', { class: 'err' }, e.message));
      box.setAttribute('data-state', 'error');
    });
}
$('lookup').addEventListener('submit', function (ev) { ev.preventDefault(); runLookup(); });
pollHistory();
`;

export const CHARTS_BODY = `
  <section><h2>Trends <small>the last hours, in memory since the service started</small></h2><div id="charts"></div></section>
  <section><h2>Lookup <small>queue_id, transaction hash or address: its whole audit history</small></h2>
    <form id="lookup" role="search"><input id="lookup-q" name="q" type="search" autocomplete="off" spellcheck="false"
      placeholder="queue_id, 0x… tx hash or 0x… address" aria-label="queue_id, tx hash or address"><button type="submit">Look up</button></form>
    <div id="lookup-result" aria-live="polite"></div></section>
`;
