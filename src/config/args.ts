/**
 * Where the config and the signing secret come from (PROTOCOL §1–§2). v2 used Go's flag package,
 * whose single-dash long flags (`-key=SECRET`, `-config PATH`) must keep working.
 */

export const DEFAULT_CONFIG_PATH = './config.json';

/** `--config PATH`, else CONFIG_PATH, else ./config.json. Empty values count as not given. */
export function resolveConfigPath(flags: { config?: string | undefined }, env: NodeJS.ProcessEnv): string {
  if (flags.config) return flags.config;
  if (env.CONFIG_PATH) return env.CONFIG_PATH;
  return DEFAULT_CONFIG_PATH;
}

/**
 * The value of flag `name` in argv, in any of the forms `--name V`, `--name=V`, `-name V`, `-name=V`;
 * the last one wins. Scanning stops at `--`.
 */
export function findFlag(argv: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === undefined || arg === '--') break;
    for (const prefix of [`--${name}`, `-${name}`]) {
      if (arg === prefix) {
        found = argv[i + 1];
        i++;
      } else if (arg.startsWith(`${prefix}=`)) {
        found = arg.slice(prefix.length + 1);
      }
    }
  }
  return found;
}

/** `--key`/`-key` from argv, else PAYMENT_SIGN_KEY; undefined (refuse to start) when neither is set. */
export function resolveSignKey(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const fromFlag = findFlag(argv, 'key');
  if (fromFlag) return fromFlag;
  return env.PAYMENT_SIGN_KEY || undefined;
}

/**
 * argv with v2 single-dash long flags rewritten to the double-dash form (`-key=X` → `--key=X`), so
 * commander, which reads `-key` as `-k -e -y`, can parse a v2 command line.
 */
export function normalizeLegacyFlags(
  argv: readonly string[],
  names: readonly string[] = ['key', 'config'],
): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => {
    if (end !== -1 && i >= end) return arg;
    const legacy = names.find((name) => arg === `-${name}` || arg.startsWith(`-${name}=`));
    return legacy ? `-${arg}` : arg;
  });
}
