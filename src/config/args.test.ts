import { describe, expect, it } from 'vitest';
import { normalizeLegacyFlags, resolveConfigPath, resolveSignKey } from './args.js';

describe('resolveConfigPath', () => {
  it('prefers --config, then CONFIG_PATH, then ./config.json', () => {
    expect(resolveConfigPath({ config: '/etc/a.json' }, { CONFIG_PATH: '/b.json' })).toBe('/etc/a.json');
    expect(resolveConfigPath({}, { CONFIG_PATH: '/b.json' })).toBe('/b.json');
    expect(resolveConfigPath({ config: undefined }, {})).toBe('./config.json');
    expect(resolveConfigPath({ config: '' }, { CONFIG_PATH: '' })).toBe('./config.json');
  });
});

describe('resolveSignKey', () => {
  it.each([
    [['start', '--key', 's1'], 's1'],
    [['start', '--key=s2'], 's2'],
    [['start', '-key=s3'], 's3'],
    [['start', '-key', 's4'], 's4'],
    [['start', '--key=a=b'], 'a=b'],
    [['start', '--key=x', '--key=y'], 'y'],
  ])('%j → %s', (argv, key) => {
    expect(resolveSignKey(argv, { PAYMENT_SIGN_KEY: 'env' })).toBe(key);
  });

  it('falls back to PAYMENT_SIGN_KEY, else undefined', () => {
    expect(resolveSignKey(['start'], { PAYMENT_SIGN_KEY: 'env' })).toBe('env');
    expect(resolveSignKey(['start', '--keys=x', '-k', 'y'], {})).toBeUndefined();
    expect(resolveSignKey(['start', '--key='], { PAYMENT_SIGN_KEY: '' })).toBeUndefined();
    expect(resolveSignKey(['start', '--', '--key=x'], {})).toBeUndefined();
    expect(resolveSignKey(['start', '--key'], {})).toBeUndefined();
  });
});

describe('normalizeLegacyFlags', () => {
  it('rewrites v2 single-dash long flags for commander', () => {
    expect(
      normalizeLegacyFlags(['start', '-key=s', '-config', 'c.json', '-k', '--key=x', '--', '-key=z']),
    ).toEqual(['start', '--key=s', '--config', 'c.json', '-k', '--key=x', '--', '-key=z']);
  });
});
