/**
 * The status page's instances table: every service instance on the database (from `/status`'s
 * `instances`), its heartbeat and the leases it holds (the sender leases counted per chain). The script uses the page's helpers (`table`,
 * `el`, `mono`, `ago`, `badge`) and is called from its `render`.
 */

export const INSTANCES_BODY = `
  <section><h2>Instances <small>on this database, and what each one leads</small></h2><div id="instances" class="rows"></div></section>`;

export const INSTANCES_SCRIPT = `
// One badge per lease, but one per chain for the sender leases (an instance may send for hundreds of
// wallets): "sender:ETH \u00d7 4", the wallets in its tooltip.
function roleBadges(roles) {
  var wallets = {};
  var badges = [];
  roles.forEach(function (r) {
    var m = /^sender:([^:]+):(.+)$/.exec(r);
    if (!m) badges.push(badge(r, 'other'));
    else (wallets[m[1]] = wallets[m[1]] || []).push(m[2]);
  });
  Object.keys(wallets).forEach(function (c) {
    var b = badge('sender:' + c + ' \\u00d7 ' + wallets[c].length, 'other');
    b.title = wallets[c].join('\\n');
    badges.push(b);
  });
  return badges;
}

function renderInstances(s) {
  if (!s.instances) return;
  var newest = s.instances.reduce(function (m, i) { return Math.max(m, i.heartbeat_at); }, 0);
  table('instances', [{ label: 'Instance' }, { label: 'Host' }, { label: 'HTTP' }, { label: 'Heartbeat' }, { label: 'Roles' }],
    s.instances.map(function (i) {
      var id = el('span', null, mono(i.id), i.id === s.instance.id ? ' ' : null, i.id === s.instance.id ? badge('this one', 'running') : null);
      var roles = el('span', i.roles.length ? null : { class: 'sub' }, i.roles.length ? null : 'standby');
      roleBadges(i.roles).forEach(function (b) { roles.appendChild(b); roles.appendChild(document.createTextNode(' ')); });
      return [id, i.host + ' (pid ' + i.pid + ')', i.http_addr || '\\u2013', ago(i.heartbeat_at, newest), roles];
    }), 'No instance has written a heartbeat yet', true);
}
`;
