import { readFileSync } from 'node:fs';
import { resolveConfigPath } from './args.js';
import { ConfigError } from './errors.js';
import { parseConfig } from './parse.js';
import type { Config } from './types.js';

export interface LoadConfigOptions {
  /** From `--config`; else CONFIG_PATH in env, else ./config.json. */
  path?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads and validates the config file. Synchronous: it runs once at start, before anything else.
 * Every failure, including a missing or unreadable file, is a ConfigError.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const path = resolveConfigPath({ config: options.path }, options.env ?? process.env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? (err as Error).message})`;
    throw new ConfigError([`config file ${path}: ${why}`], { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`config file ${path}: not valid JSON (${(err as Error).message})`], {
      cause: err,
    });
  }
  return parseConfig(json);
}
