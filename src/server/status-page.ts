import { createHash } from 'node:crypto';
import { CHARTS_BODY, CHARTS_SCRIPT, CHARTS_STYLE } from './status-page-charts.js';
import { INSTANCES_BODY, INSTANCES_SCRIPT } from './status-page-instances.js';
import { TREASURY_BODY, TREASURY_SCRIPT } from './status-page-treasury.js';

/*
 * The operator's status page: one self-contained document (the service may run where there is no
 * internet), polling GET /status every few seconds. Every value goes into the page as a text node or
 * through setAttribute, never as HTML: queue ids, order ids and addresses come from requests.
 * Written without template literals so it can live in this TypeScript string as it is.
 */

const STYLE = `
:root{--bg:#f6f7f9;--fg:#1d2430;--muted:#5f6b7a;--card:#fff;--line:#e2e6eb;--ok:#1a7f37;--warn:#9a6700;
--warn-bg:#fff4d6;--crit:#c0262d;--crit-bg:#ffe3e3;--info:#0b5cad;--info-bg:#e3efff;--ok-bg:#e0f5e6}
@media (prefers-color-scheme:dark){:root{--bg:#12161c;--fg:#e4e8ee;--muted:#9aa5b4;--card:#1b2129;--line:#2c343f;
--ok:#4ac26b;--warn:#e3b341;--warn-bg:#3a2f12;--crit:#ff6b6b;--crit-bg:#3d1a1c;--info:#6cb6ff;--info-bg:#15304d;--ok-bg:#12331d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1rem;padding:.7rem 1rem;background:var(--card);
border-bottom:1px solid var(--line);position:sticky;top:0;z-index:1}
header h1{font-size:1.05rem;margin:0;display:flex;align-items:center;gap:.5rem}
#dot{width:.75rem;height:.75rem;border-radius:50%;background:var(--muted);display:inline-block}
#dot.ok{background:var(--ok)}#dot.warning{background:var(--warn)}#dot.critical{background:var(--crit)}
#chain{color:var(--muted);font-size:.85rem}
#meta{color:var(--muted);font-size:.85rem;margin-left:auto}
#meta.stale{color:var(--crit);font-weight:600}
main{max-width:1200px;margin:0 auto;padding:1rem;display:grid;gap:1rem}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem;min-width:0}
h2{font-size:.95rem;margin:0 0 .6rem;display:flex;gap:.5rem;align-items:baseline}
h2 small{color:var(--muted);font-weight:400}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:.6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem .8rem}
.card .label{color:var(--muted);font-size:.78rem;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:1.35rem;font-weight:600;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.card .sub{color:var(--muted);font-size:.8rem}
.card.warning{border-color:var(--warn);background:var(--warn-bg)}.card.critical{border-color:var(--crit);background:var(--crit-bg)}
#alerts ul{list-style:none;margin:0;padding:0;display:grid;gap:.4rem}
#alerts li{padding:.45rem .6rem;border-radius:6px;display:flex;gap:.6rem;align-items:baseline}
#alerts li.warning{background:var(--warn-bg)}#alerts li.critical{background:var(--crit-bg)}
.none{color:var(--muted)}#alerts .none{color:var(--ok)}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.75rem;font-weight:600;white-space:nowrap;
background:var(--info-bg);color:var(--info)}
.badge.warning,.badge.pending,.badge.orphaned,.badge.held{background:var(--warn-bg);color:var(--warn)}
.badge.critical,.badge.failed,.badge.error,.badge.unresolved{background:var(--crit-bg);color:var(--crit)}
.badge.confirmed,.badge.running{background:var(--ok-bg);color:var(--ok)}
.badge.connecting,.badge.stopped{background:var(--warn-bg);color:var(--warn)}
tr.warning td{background:var(--warn-bg)}tr.critical td{background:var(--crit-bg)}
.sub{color:var(--muted);font-size:.8rem}
#chains td{white-space:nowrap}#chains td.bal{white-space:normal}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th{text-align:left;color:var(--muted);font-weight:500;font-size:.78rem;padding:.3rem .5rem;border-bottom:1px solid var(--line)}
td{padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
tr:last-child td{border-bottom:0}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;white-space:nowrap}
.rows{overflow-x:auto}
.clip{display:inline-block;max-width:18ch;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom}
.num{text-align:right;white-space:nowrap}
.err{color:var(--crit)}
.two{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr))}
footer{color:var(--muted);font-size:.8rem;text-align:center;padding:0 1rem 1.5rem}
footer a{color:inherit}
@media (max-width:640px){
  main{padding:.6rem;gap:.6rem}
  section{padding:.6rem .7rem}
  .card .value{font-size:1.15rem}
  /* Wide tables become one wrapped block per row, each value under its small label. */
  table.stack thead{display:none}
  table.stack,table.stack tbody{display:block;width:100%}
  table.stack tr{display:flex;flex-wrap:wrap;gap:.15rem 1rem;border-bottom:1px solid var(--line);padding:.45rem 0}
  table.stack tr:last-child{border-bottom:0}
  table.stack td{display:block;border:0;padding:0;text-align:left}
  table.stack td::before{content:attr(data-label);display:block;color:var(--muted);font-size:.68rem;
    text-transform:uppercase;letter-spacing:.03em}
  th,td{padding-left:.3rem;padding-right:.3rem}
  table.stack tr.warning,table.stack tr.critical{padding-left:.4rem;padding-right:.4rem;border-radius:6px}
  table.stack tr.warning{background:var(--warn-bg)}table.stack tr.critical{background:var(--crit-bg)}
  table.stack tr.warning td,table.stack tr.critical td{background:none}
  .clip{max-width:22ch}
}
`;

const SCRIPT = `
'use strict';
var REFRESH_MS = 3000;
var last = null;
var lastOkAt = 0;
var $ = function (id) { return document.getElementById(id); };

function el(tag, attrs) {
  var node = document.createElement(tag);
  if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, String(attrs[k]));
  for (var i = 2; i < arguments.length; i++) {
    var c = arguments[i];
    if (c === undefined || c === null) continue;
    node.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return node;
}
function short(hex) {
  if (typeof hex !== 'string' || hex.length <= 14) return hex || '';
  return hex.slice(0, 8) + '\\u2026' + hex.slice(-6);
}
function mono(text, full) { return el('span', { class: 'mono', title: full || text }, text); }
function clip(text) { return el('span', { class: 'mono clip', title: text }, text); }
function age(s) {
  if (s === null || s === undefined) return '';
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}
function ago(ms, now) { return age(Math.max(0, Math.round((now - ms) / 1000))) + ' ago'; }
function pct(r) { return r === null || r === undefined ? '\\u2013' : (Math.round(r * 1000) / 10) + '%'; }
var KNOWN = ['pending', 'orphaned', 'confirmed', 'failed', 'held', 'accepted', 'batched', 'signed', 'sent', 'unresolved', 'mined', 'warning', 'critical', 'error', 'running', 'connecting', 'stopped'];
function badge(text, level) { return el('span', { class: 'badge ' + (level || (KNOWN.indexOf(text) >= 0 ? text : 'other')) }, text); }
function num(n) { return n === null || n === undefined ? '\\u2013' : Number(n).toLocaleString(); }
function sum(obj, keys) { var t = 0; keys.forEach(function (k) { t += (obj && obj[k]) || 0; }); return t; }

function card(label, value, sub, level) {
  return el('div', { class: 'card' + (level ? ' ' + level : '') },
    el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), sub ? el('div', { class: 'sub' }, sub) : null);
}
function table(id, headers, rows, empty, stack, rowLevels) {
  var box = $(id);
  if (!rows.length) { box.replaceChildren(el('p', { class: 'none' }, empty)); return; }
  var head = el('tr');
  headers.forEach(function (h) { head.appendChild(el('th', { class: h.num ? 'num' : null }, h.label)); });
  var body = el('tbody');
  rows.forEach(function (cells, r) {
    var tr = el('tr', { class: rowLevels ? rowLevels[r] : null });
    cells.forEach(function (c, i) { tr.appendChild(el('td', { 'data-label': headers[i].label, class: headers[i].num ? 'num' : headers[i].cls || null }, c)); });
    body.appendChild(tr);
  });
  box.replaceChildren(el('table', { class: stack ? 'stack' : null }, el('thead', null, head), body));
}
function alertLevel(alerts, names, chain) {
  var level = null;
  alerts.forEach(function (a) {
    if (names.indexOf(a.name) >= 0 && (chain === undefined || a.chain === chain) && level !== 'critical') level = a.severity;
  });
  return level;
}
function lines(texts) {
  var box = el('span');
  texts.forEach(function (t) { box.appendChild(el('div', null, t)); });
  return box;
}
/* One row per chain: readable with five chains, each value under its label on a phone. */
function chainRow(c, alerts, now) {
  var level = alertLevel(alerts, ['node_down', 'watcher_lag', 'collection_gas'], c.name);
  var state = c.nodeDown ? badge('node down', 'critical') : badge(c.state);
  var head = el('span', null, el('div', null, num(c.tip)), el('div', { class: 'sub' }, c.state !== 'running' ? c.state : 'node ' + num(c.nodeHead) + (c.wsConnected ? ' \\u00b7 ws' : ' \\u00b7 polling')));
  var lag = el('span', null, el('div', null, c.lag === null ? '\\u2013' : c.lag + (c.lag === 1 ? ' block' : ' blocks')),
    el('div', { class: 'sub' }, c.state !== 'running' ? '' : c.backfilling ? 'backfilling' : c.caughtUp ? 'caught up' : 'catching up'));
  var pending = el('span', null, el('div', null, num(c.pending.deposits) + ' in \\u00b7 ' + num(c.pending.payouts) + ' out'),
    el('div', { class: 'sub' }, 'confirm at ' + c.confirmHeight));
  var bal;
  if (!c.collection) bal = el('span', { class: 'sub' }, 'no collection wallet');
  else {
    bal = lines(c.collection.balances.map(function (b) { return b.amount + ' ' + b.symbol; }));
    bal.appendChild(el('div', { class: 'sub' }, mono(short(c.collection.address), c.collection.address),
      c.collection.readAt ? ' \\u00b7 ' + ago(c.collection.readAt, now) : ''));
    if (c.collection.error) bal.appendChild(el('div', { class: 'err' }, c.collection.error));
  }
  var name = el('span', null, el('div', null, el('strong', null, c.name)), el('div', { class: 'sub' }, 'chain ' + (c.chainId === null ? '?' : c.chainId)));
  return { cells: [name, state, head, lag, pending, bal], level: level };
}
${TREASURY_SCRIPT}
function render(s) {
  var now = s.now;
  var worst = s.alerts.some(function (a) { return a.severity === 'critical'; }) ? 'critical' : s.alerts.length ? 'warning' : 'ok';
  $('dot').className = worst;
  $('chain').textContent = s.chains.map(function (ch) { return ch.name; }).join(' \\u00b7 ');
  document.title = (worst === 'ok' ? '' : '(' + s.alerts.length + ') ') + 'M2Pool Payment';

  var list = el('ul');
  s.alerts.forEach(function (a) { list.appendChild(el('li', { class: a.severity }, badge(a.severity), el('span', null, a.message))); });
  s.errors.forEach(function (e) { list.appendChild(el('li', { class: 'critical' }, badge('error'), el('span', null, e))); });
  $('alerts').replaceChildren(el('h2', null, 'Alerts'), list.childNodes.length ? list : el('p', { class: 'none' }, 'No active alerts'));

  var pendD = sum(s.deposits.counts, ['pending', 'orphaned']);
  var pendP = sum(s.payouts.counts, ['held', 'accepted', 'batched', 'signed', 'sent', 'unresolved', 'mined']);
  var held = (s.payouts.counts && s.payouts.counts.held) || 0;
  var unres = (s.payouts.counts && s.payouts.counts.unresolved) || 0;
  var oldest = s.payouts.oldestInFlightSeconds;
  var payoutSub = (held ? held + ' held for approval \\u00b7 ' : '') + (unres ? unres + ' unresolved \\u00b7 ' : '') + (oldest === null || oldest === undefined ? '' : 'oldest in flight ' + age(oldest) + ' \\u00b7 ') + 'failure rate 1h ' + pct(s.payouts.failureRatio);
  var running = s.chains.filter(function (ch) { return ch.state === 'running' && !ch.nodeDown; }).length;
  $('cards').replaceChildren(
    card('Chains', running + ' / ' + s.chains.length, 'running', alertLevel(s.alerts, ['node_down', 'watcher_lag', 'collection_gas'])),
    card('Pending deposits', num(pendD), 'every chain', alertLevel(s.alerts, ['pending'])),
    card('Pending payouts', num(pendP), payoutSub, alertLevel(s.alerts, ['pending', 'failure_rate', 'payout_stuck', 'payout_unresolved'])),
    card('Outbox backlog', num(s.outbox.backlog), 'responses to publish', alertLevel(s.alerts, ['broker_down'])),
    card('Uptime', age(s.uptimeS), s.system ? 'mem ' + pct(s.system.memoryRatio) + ' \\u00b7 cpu ' + pct(s.system.cpuRatio) : '', alertLevel(s.alerts, ['memory', 'cpu']))
  );

  var chainRows = s.chains.map(function (ch) { return chainRow(ch, s.alerts, now); });
  table('chains', [{ label: 'Chain' }, { label: 'State' }, { label: 'Head', num: true }, { label: 'Lag', num: true }, { label: 'Pending', num: true }, { label: 'Collection wallet', cls: 'bal' }],
    chainRows.map(function (r) { return r.cells; }), 'No chain configured', true, chainRows.map(function (r) { return r.level; }));
  renderTreasury(s);

  table('pending-deposits', [{ label: 'Age' }, { label: 'Amount', num: true }, { label: 'Address' }, { label: 'Status' }, { label: 'Confirmations', num: true }, { label: 'Tx' }],
    s.deposits.pending.map(function (d) {
      return [age(d.ageS), d.amount + ' ' + d.symbol, mono(short(d.address), d.address), badge(d.status),
        d.confirmations === undefined ? '\\u2013' : d.confirmations + ' / ' + d.confirmHeight, mono(short(d.txHash), d.txHash)];
    }), 'No pending deposits', true);

  table('pending-payouts', [{ label: 'Age' }, { label: 'Queue id' }, { label: 'Amount', num: true }, { label: 'To' }, { label: 'State' }, { label: 'Tx' }],
    s.payouts.pending.map(function (p) {
      return [age(p.ageS), clip(p.queueId), p.amount + ' ' + p.symbol, mono(short(p.to), p.to), badge(p.state), p.txHash ? mono(short(p.txHash), p.txHash) : '\\u2013'];
    }), 'No pending payouts', true);

  var heldList = (s.payouts.held && s.payouts.held.list) || [];
  table('held-payouts', [{ label: 'Age' }, { label: 'Chain' }, { label: 'Queue id' }, { label: 'Amount', num: true }, { label: 'From' }, { label: 'To' }],
    heldList.map(function (p) {
      return [age(p.ageS), p.chain, clip(p.queueId), p.amount + ' ' + p.symbol, mono(short(p.from), p.from), mono(short(p.to), p.to)];
    }), 'No payout held for approval', true);

  var recent = s.recent.deposits.map(function (d) {
    return { t: d.createdAt, row: [ago(d.createdAt, now), 'deposit', d.amount + ' ' + d.symbol, mono(short(d.address), d.address), badge(d.status), mono(short(d.txHash), d.txHash)] };
  }).concat(s.recent.payouts.map(function (p) {
    var ref = p.txHash ? mono(short(p.txHash), p.txHash) : clip(p.queueId);
    return { t: p.createdAt, row: [ago(p.createdAt, now), p.kind, p.amount + ' ' + p.symbol, mono(short(p.to), p.to), el('span', null, badge(p.state), p.error ? ' ' + p.error : ''), ref] };
  })).sort(function (a, b) { return b.t - a.t; }).slice(0, 20).map(function (r) { return r.row; });
  table('recent', [{ label: 'When' }, { label: 'Type' }, { label: 'Amount', num: true }, { label: 'Address' }, { label: 'State' }, { label: 'Tx / queue id' }], recent, 'Nothing yet', true);

  table('queues', [{ label: 'Queue' }, { label: 'Waiting', num: true }, { label: 'Usage', num: true }, { label: 'Handling', num: true }],
    s.queues.items.map(function (q) {
      return [el('span', { title: q.queue }, q.role), num(q.messages), pct(q.usage), q.inFlight === null ? '\\u2013' : num(q.inFlight)];
    }), 'Broker not connected');
  renderInstances(s);
}

function showMeta() {
  var meta = $('meta');
  if (!last) { meta.textContent = 'loading\\u2026'; return; }
  var since = Math.round((Date.now() - lastOkAt) / 1000);
  var stale = since * 1000 > REFRESH_MS * 3;
  meta.className = stale ? 'stale' : '';
  meta.textContent = (stale ? 'connection lost \\u00b7 ' : '') + 'updated ' + age(since) + ' ago';
}

function poll() {
  fetch('status', { cache: 'no-store' })
    .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(function (s) { last = s; lastOkAt = Date.now(); render(s); })
    .catch(function () { if (last) $('dot').className = 'critical'; })
    .then(function () { showMeta(); setTimeout(poll, REFRESH_MS); });
}
setInterval(showMeta, 1000);
poll();
`;

const BODY = `
<header>
  <h1><span id="dot" title="overall state"></span>M2Pool Payment</h1>
  <span id="chain"></span>
  <span id="meta">loading…</span>
</header>
<main>
  <section id="alerts" aria-live="polite"><h2>Alerts</h2><p class="none">…</p></section>
  <div id="cards" class="cards"></div>${CHARTS_BODY}  <section><h2>Chains <small>head, lag, pending, collection wallet</small></h2><div id="chains" class="rows"></div></section>${TREASURY_BODY}
  <section><h2>Pending deposits <small>oldest first</small></h2><div id="pending-deposits" class="rows"></div></section>
  <section><h2>Pending payouts <small>oldest first</small></h2><div id="pending-payouts" class="rows"></div></section>
  <section><h2>Held for approval <small>payout approve / payout reject QUEUE_ID</small></h2><div id="held-payouts" class="rows"></div></section>
  <section><h2>Recent activity <small>last 20</small></h2><div id="recent" class="rows"></div></section>
  <section><h2>Queues</h2><div id="queues" class="rows"></div></section>${INSTANCES_BODY}
</main>
<footer><a href="status">status JSON</a> · <a href="metrics">Prometheus metrics</a></footer>
`;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>M2Pool Payment</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/uplot.css">
<style>${STYLE}${CHARTS_STYLE}</style>
</head><body>${BODY}<script src="assets/uplot.js"></script><script>${SCRIPT}${CHARTS_SCRIPT}${INSTANCES_SCRIPT}</script></body></html>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only this page's own style and script, and the chart library the service serves, may run; nothing loads from elsewhere. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'self' ${sha256(STYLE + CHARTS_STYLE)}`,
  `script-src 'self' ${sha256(SCRIPT + CHARTS_SCRIPT + INSTANCES_SCRIPT)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
