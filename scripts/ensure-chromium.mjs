#!/usr/bin/env node
// npm's `pretest`: the status page test (test/monitor.test.ts) drives Debian's Chromium through
// playwright-core (test/helpers/browser.ts). On a machine without it, installs Debian's `chromium`
// package, so `npm test` needs nothing done by hand; where that is not possible, says what to install.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';
const PACKAGE = 'chromium';
const wanted = process.env.CHROMIUM_PATH || DEBIAN_CHROMIUM;

const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const fail = (why) => {
  console.error(
    `pretest: the status page test needs Chromium at ${wanted}, and ${why}.\n` +
      `Install Debian's package "${PACKAGE}" as root (apt-get update && apt-get install -y ${PACKAGE}), ` +
      'or point CHROMIUM_PATH at a Chromium binary.',
  );
  process.exit(1);
};

if (executable(wanted)) process.exit(0);
if (wanted !== DEBIAN_CHROMIUM) fail(`CHROMIUM_PATH=${wanted} is not an executable file`);

const aptGet = (process.env.PATH ?? '')
  .split(delimiter)
  .map((dir) => join(dir, 'apt-get'))
  .find(executable);
if (!aptGet) fail('it is missing and there is no apt-get here to install it');
if (process.getuid?.() !== 0) fail('it is missing and only root can install it');

console.log(`pretest: ${DEBIAN_CHROMIUM} is missing: installing Debian's "${PACKAGE}" package (apt-get)`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const args of [
  ['update', '-qq'],
  ['install', '-y', '-qq', PACKAGE],
]) {
  const run = spawnSync(aptGet, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) {
    process.stderr.write(`${run.stdout ?? ''}${run.stderr ?? ''}`);
    fail(`\`apt-get ${args.join(' ')}\` failed${run.error ? ` (${run.error.message})` : ''}`);
  }
}
if (!executable(DEBIAN_CHROMIUM)) fail(`the "${PACKAGE}" package was installed but did not provide it`);
