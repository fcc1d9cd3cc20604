/**
 * The status page's instances table: every service instance on the database (from `/status`'s
 * `instances`), its heartbeat and the leases it holds. The script uses the page's helpers (`table`,
 * `el`, `mono`, `ago`, `badge`) and is called from its `render`.
 */

export const INSTANCES_BODY = `
  <section><h2>Instances <small>on this database, and what each one leads</small></h2><div id="instances" class="rows"></div></section>`;

export const INSTANCES_SCRIPT = `
function renderInstances(s) {
  if (!s.instances) return;
  var newest = s.instances.reduce(function (m, i) { return Math.max(m, i.heartbeat_at); }, 0);
  table('instances', [{ label: 'Instance' }, { label: 'Host' }, { label: 'HTTP' }, { label: 'Heartbeat' }, { label: 'Roles' }],
    s.instances.map(function (i) {
      var id = el('span', null, mono(i.id), i.id === s.instance.id ? ' ' : null, i.id === s.instance.id ? badge('this one', 'running') : null);
      var roles = i.roles.length ? el('span', null, i.roles.map(function (r) { return badge(r, 'other'); })) : el('span', { class: 'sub' }, 'standby');
      return [id, i.host + ' (pid ' + i.pid + ')', i.http_addr || '\\u2013', ago(i.heartbeat_at, newest), roles];
    }), 'No instance has written a heartbeat yet', true);
}
`;
