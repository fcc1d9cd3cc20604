/**
 * The status page's treasury panel (docs/TREASURY.md §4.4): one row per chain with a `sweep` section,
 * from `/status`'s `treasury`: the collection and gas wallets' balances, what the issued deposit wallets
 * still hold, how many are above a threshold, the last sweep, the next round and the last round's outcome.
 * A row whose gas wallet could not fund the last round is coloured as a warning (the `sweep_gas` alert).
 * The script uses the page's helpers (`table`, `el`, `lines`, `mono`, `short`, `ago`, `age`, `badge`) and
 * is called from its `render`; the panel stays hidden while no chain sweeps.
 */

export const TREASURY_BODY = `
  <section id="treasury-panel" hidden><h2>Treasury <small>sweeping the issued deposit wallets into the collection wallet</small></h2><div id="treasury" class="rows"></div></section>`;

export const TREASURY_SCRIPT = `
function amounts(map, empty) {
  var keys = Object.keys(map || {});
  if (!keys.length) return el('span', { class: 'sub' }, empty);
  return lines(keys.map(function (k) { return map[k] + ' ' + k; }));
}
function treasuryRow(t, now) {
  var cannotFund = t.gasWallet && !t.gasWallet.canFund;
  var name = el('span', null, el('div', null, el('strong', null, t.chain)),
    el('div', { class: 'sub' }, !t.running ? 'sweeper not here' : t.enabled ? 'every ' + age(t.intervalSeconds) : 'disabled'));
  var collection = t.collection ? amounts(t.collection.balances, 'not read yet') : el('span', { class: 'sub' }, 'none');
  if (t.collection) collection.appendChild(el('div', { class: 'sub' }, mono(short(t.collection.address), t.collection.address)));
  var gas;
  if (!t.gasWallet) gas = el('span', { class: 'sub' }, 'no round yet');
  else {
    gas = el('span', null, el('div', null, t.gasWallet.balance + ' ' + t.native),
      el('div', { class: 'sub' }, 'round needs ' + t.gasWallet.needed + ' ' + t.native),
      el('div', { class: 'sub' }, mono(short(t.gasWallet.address), t.gasWallet.address)));
    if (cannotFund) gas.appendChild(el('div', null, badge('cannot fund', 'warning')));
  }
  var held = amounts(t.held, t.lastRoundAt ? 'nothing' : 'no round yet');
  var above = el('span', null, String(t.walletsAbove), el('div', { class: 'sub' }, 'above threshold'));
  var last = el('span', null, el('div', null, t.lastSweepAt ? ago(t.lastSweepAt, now) : 'never'),
    el('div', { class: 'sub' }, t.lastRoundAt ? 'round ' + ago(t.lastRoundAt, now) : ''));
  var next = !t.running || !t.enabled ? '\\u2013' : t.nextRoundAt === null ? 'soon'
    : t.nextRoundAt > now ? 'in ' + age(Math.round((t.nextRoundAt - now) / 1000)) : 'due';
  var outcome = el('span', { class: t.lastRound && t.lastRound.indexOf('failed') === 0 ? 'err' : null }, t.lastRound || '\\u2013');
  return { cells: [name, collection, gas, held, above, last, next, outcome], level: cannotFund ? 'warning' : null };
}
function renderTreasury(s) {
  var list = s.treasury || [];
  $('treasury-panel').hidden = list.length === 0;
  var rows = list.map(function (t) { return treasuryRow(t, s.now); });
  table('treasury', [{ label: 'Chain' }, { label: 'Collection wallet' }, { label: 'Gas wallet' },
    { label: 'In deposit wallets' }, { label: 'Wallets', num: true }, { label: 'Last sweep' }, { label: 'Next round' }, { label: 'Last round' }],
    rows.map(function (r) { return r.cells; }), 'No chain sweeps', true, rows.map(function (r) { return r.level; }));
}
`;
