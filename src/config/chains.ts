import { toAddressLc } from '../internal/address.js';
import { parseBatch } from './batch.js';
import { type Checker, field, given, type Json } from './check.js';
import { parsePolicies } from './policies.js';
import { parseSweep } from './sweep.js';
import type { ChainConfig, Config, NativeCoinConfig, TokenConfig } from './types.js';

/**
 * The chains of config.json (PROTOCOL §2.4 and §2.9): `eth_config`, the chain `ETH`, read as v2 wrote it
 * (unknown fields ignored, optional fields with defaults), and the entries of the optional top-level
 * `chains` object, which are new and so read strictly: unknown fields are reported, `chainId` and
 * `native` are required. Then what only the whole list can show: names and chain ids used twice.
 */

export const CHAIN_DEFAULTS = {
  ethName: 'ETH',
  confirmHeight: 20,
  ethTokens: [
    { symbol: 'USDT', addressLc: '0xdac17f958d2ee523a2206206994597c13d831ec7', decimals: 6 },
  ] as readonly TokenConfig[],
  ethNative: { symbol: 'ETH', decimals: 18 } as const,
  maxFeeGwei: 500,
  replaceAfterBlocks: 5,
} as const;

/** Chain names and symbols are stored in varchar(16) columns: a longer one would fail every insert on MySQL. */
const MAX_NAME_LENGTH = 16;
const ADDRESS = 'a 0x-prefixed 20-byte hex address';
const HTTP = ['http', 'https'] as const;
const WS = ['ws', 'wss'] as const;

const ENTRY_FIELDS = [
  'rpcUrl',
  'rpcUrls',
  'wsUrl',
  'wsUrls',
  'chainId',
  'confirmHeight',
  'native',
  'tokens',
  'collectionAddress',
  'maxFeeGwei',
  'replaceAfterBlocks',
  'policies',
  'sweep',
  'batch',
] as const;

/** Requests match chain names and symbols in any letter case. */
function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Reports the fields of `obj` not in `known` (the new sections, where a typo would silently mean a default). */
function reportUnknown(c: Checker, path: string, obj: Json, known: readonly string[], hint?: string): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const expected =
      key === 'dbConfig'
        ? 'no dbConfig here (one database serves every chain: eth_config.dbConfig)'
        : (hint ?? `one of the fields ${known.join(', ')}`);
    // A dbConfig holds a password: only its kind is shown.
    c.problem(`${path}.${key}`, obj[key], expected, { redact: true, secret: key === 'dbConfig' });
  }
}

/** A symbol (token or native coin) or a chain name: not blank, at most 16 characters. */
function checkName(c: Checker, path: string, name: string, what: string): boolean {
  if (name.trim() === '') {
    c.problem(path, name, `a ${what} that is not empty`);
    return false;
  }
  if (name.length > MAX_NAME_LENGTH) {
    c.problem(path, name, `a ${what} of at most ${MAX_NAME_LENGTH} characters (its database column)`);
    return false;
  }
  return true;
}

/**
 * `single` then the list `plural`, without repeats (compared as parsed URLs): at least one URL.
 * Found values are printed as scheme and host only.
 */
function parseUrls(
  c: Checker,
  path: string,
  obj: Json,
  single: string,
  plural: string,
  schemes: readonly string[],
): string[] | undefined {
  const urls: string[] = [];
  let ok = true;
  const take = (at: string, value: unknown) => {
    const url = c.url(at, value, schemes, { redact: true });
    if (url === undefined) ok = false;
    else urls.push(url);
  };
  if (given(obj, single)) take(`${path}.${single}`, field(obj, single));
  const list = field(obj, plural);
  if (given(obj, plural)) {
    if (Array.isArray(list)) {
      for (const [i, value] of list.entries()) take(`${path}.${plural}[${i}]`, value);
    } else {
      c.problem(`${path}.${plural}`, list, `a list of ${schemes.map((s) => `${s}://`).join(' or ')} URLs`, {
        redact: true,
      });
      ok = false;
    }
  }
  if (!ok) return undefined;
  const seen = new Set<string>();
  const unique = urls.filter((url) => {
    const key = new URL(url).href;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length > 0) return unique;
  // Neither field gave a URL: the single field's own line, as v2 files have always been told.
  if (!given(obj, plural)) {
    c.url(`${path}.${single}`, field(obj, single), schemes, { redact: true });
    return undefined;
  }
  const names = schemes.map((s) => `${s}://`).join(' or ');
  return c.problem(`${path}.${plural}`, list, `at least one ${names} URL here or in ${single}`, {
    redact: true,
  });
}

function parseNative(c: Checker, path: string, obj: Json, required: boolean): NativeCoinConfig | undefined {
  if (!given(obj, 'native')) {
    if (required)
      return c.problem(
        `${path}.native`,
        field(obj, 'native'),
        'the native coin, e.g. { "symbol": "BNB", "decimals": 18 }',
      );
    return { ...CHAIN_DEFAULTS.ethNative };
  }
  const native = c.object(`${path}.native`, field(obj, 'native'));
  if (!native) return undefined;
  reportUnknown(c, `${path}.native`, native, ['symbol', 'decimals']);
  const rawSymbol = field(native, 'symbol');
  const symbol = c.string(`${path}.native.symbol`, rawSymbol);
  const symbolOk = symbol !== undefined && checkName(c, `${path}.native.symbol`, symbol, 'symbol');
  const decimals = c.integer(
    `${path}.native.decimals`,
    field(native, 'decimals'),
    0,
    255,
    'an integer from 0 to 255',
  );
  if (!symbolOk || decimals === undefined) return undefined;
  return { symbol, decimals };
}

/**
 * `tokens`, keyed by symbol. `fallback` applies when the field is absent: mainnet USDT for `eth_config`,
 * none (the native coin only) for an entry of `chains`; `eth_config` must keep at least one token.
 */
function parseTokens(
  c: Checker,
  path: string,
  value: unknown,
  rules: { fallback: readonly TokenConfig[]; atLeastOne: boolean; strict: boolean },
): TokenConfig[] | undefined {
  if (value === undefined || value === null) return rules.fallback.map((t) => ({ ...t }));
  const obj = c.object(`${path}.tokens`, value);
  if (!obj) return undefined;
  const entries = Object.entries(obj);
  if (entries.length === 0 && rules.atLeastOne)
    return c.problem(`${path}.tokens`, value, 'at least one token');
  const tokens: TokenConfig[] = [];
  let ok = true;
  for (const [symbol, spec] of entries) {
    const at = `${path}.tokens.${symbol}`;
    const token = c.object(at, spec);
    if (!token) {
      ok = false;
      continue;
    }
    if (rules.strict) reportUnknown(c, at, token, ['address', 'decimals']);
    const rawAddress = field(token, 'address');
    const addressLc = toAddressLc(rawAddress) ?? c.problem(`${at}.address`, rawAddress, ADDRESS);
    // ERC-20 `decimals()` is a uint8.
    const decimals = c.integer(
      `${at}.decimals`,
      field(token, 'decimals'),
      0,
      255,
      'an integer from 0 to 255',
    );
    if (symbol.trim() === '') c.problem(`${path}.tokens`, symbol, 'token symbols that are not empty');
    if (symbol.length > MAX_NAME_LENGTH)
      c.problem(at, symbol, `a symbol of at most ${MAX_NAME_LENGTH} characters (its database column)`);
    // Requests match symbols case-insensitively, so "usdt" and "USDT" would be ambiguous.
    const twin = tokens.find((t) => sameName(t.symbol, symbol));
    if (twin) c.problem(at, symbol, `a symbol different from ${twin.symbol} (symbols match in any case)`);
    const sameAddress = tokens.find((t) => t.addressLc === addressLc);
    if (sameAddress)
      c.problem(`${at}.address`, rawAddress, `an address not already used by ${sameAddress.symbol}`);
    if (addressLc === undefined || decimals === undefined) ok = false;
    else tokens.push({ symbol, addressLc, decimals });
  }
  return ok ? tokens : undefined;
}

/** Reads one chain at `path` (`eth_config` or `chains.NAME`). */
function parseChainFields(
  c: Checker,
  path: string,
  name: string,
  obj: Json,
  entry: boolean,
): ChainConfig | undefined {
  if (entry) reportUnknown(c, path, obj, ENTRY_FIELDS);
  const rpcUrls = parseUrls(c, path, obj, 'rpcUrl', 'rpcUrls', HTTP);
  const wsUrls = parseUrls(c, path, obj, 'wsUrl', 'wsUrls', WS);
  const confirmHeight = given(obj, 'confirmHeight')
    ? c.integer(`${path}.confirmHeight`, field(obj, 'confirmHeight'), 1, 1_000_000, 'a positive integer')
    : CHAIN_DEFAULTS.confirmHeight;
  let chainId: number | undefined;
  let chainIdOk = true;
  if (given(obj, 'chainId') || entry) {
    chainId = c.integer(
      `${path}.chainId`,
      field(obj, 'chainId'),
      1,
      Number.MAX_SAFE_INTEGER,
      'a positive integer',
    );
    chainIdOk = chainId !== undefined;
  }
  // An empty string is how a v2-style file says "no collection wallet".
  const rawCollection = field(obj, 'collectionAddress');
  const hasCollection = rawCollection !== undefined && rawCollection !== null && rawCollection !== '';
  const collectionAddressLc = hasCollection
    ? (toAddressLc(rawCollection) ?? c.problem(`${path}.collectionAddress`, rawCollection, ADDRESS))
    : undefined;
  // Payout fee cap and replacement delay: optional, with defaults (not in v2).
  const maxFeeGwei = given(obj, 'maxFeeGwei')
    ? c.integer(`${path}.maxFeeGwei`, field(obj, 'maxFeeGwei'), 1, 1_000_000, 'a whole number of gwei from 1')
    : CHAIN_DEFAULTS.maxFeeGwei;
  const replaceAfterBlocks = given(obj, 'replaceAfterBlocks')
    ? c.integer(
        `${path}.replaceAfterBlocks`,
        field(obj, 'replaceAfterBlocks'),
        1,
        10_000,
        'a positive integer',
      )
    : CHAIN_DEFAULTS.replaceAfterBlocks;
  const native = parseNative(c, path, obj, entry);
  const tokens = parseTokens(c, path, field(obj, 'tokens'), {
    fallback: entry ? [] : CHAIN_DEFAULTS.ethTokens,
    atLeastOne: !entry,
    strict: entry,
  });
  // The native coin and a token answering to one symbol would make requests ambiguous.
  const clash = native && tokens?.find((t) => sameName(t.symbol, native.symbol));
  if (native && clash)
    c.problem(
      `${path}.tokens.${clash.symbol}`,
      clash.symbol,
      `a symbol different from the native coin's ${native.symbol}`,
    );
  // Withdrawal policies (new, optional: config/policies.ts), per asset in the asset's decimals.
  const policies =
    native && tokens
      ? parsePolicies(c, path, field(obj, 'policies'), [...tokens, native])
      : given(obj, 'policies')
        ? undefined
        : {};
  // Sweeping of the issued deposit wallets (new, optional: config/sweep.ts); null when not configured.
  const sweep =
    native && tokens
      ? parseSweep(c, path, field(obj, 'sweep'), [...tokens, native], {
          maxFeeGwei: maxFeeGwei ?? CHAIN_DEFAULTS.maxFeeGwei,
          collectionAddressLc,
        })
      : given(obj, 'sweep')
        ? undefined
        : null;

  if (!rpcUrls || !wsUrls || confirmHeight === undefined || !chainIdOk || !policies) return undefined;
  // Batched payouts (new, optional: config/batch.ts); null when not configured.
  const batch = parseBatch(c, path, field(obj, 'batch'), { collectionAddressLc });
  if (sweep === undefined || batch === undefined) return undefined;
  if (hasCollection && !collectionAddressLc) return undefined;
  if (maxFeeGwei === undefined || replaceAfterBlocks === undefined || !native || !tokens || clash)
    return undefined;
  const [rpcUrl] = rpcUrls;
  const [wsUrl] = wsUrls;
  if (rpcUrl === undefined || wsUrl === undefined) return undefined;
  return {
    name,
    chainId,
    rpcUrl,
    wsUrl,
    rpcUrls,
    wsUrls,
    confirmHeight,
    native,
    tokens,
    collectionAddressLc,
    maxFeePerGasWei: BigInt(maxFeeGwei) * 1_000_000_000n,
    replaceAfterBlocks,
    // Only when configured: a chain without policies reads as it always did.
    ...(Object.keys(policies).length > 0 ? { policies } : {}),
    ...(sweep ? { sweep } : {}),
    ...(batch ? { batch } : {}),
  };
}

/** `eth_config`'s chain, named `ETH` (its `dbConfig` is read by the caller). */
export function parseEthChain(c: Checker, eth: Json): ChainConfig | undefined {
  return parseChainFields(c, 'eth_config', CHAIN_DEFAULTS.ethName, eth, false);
}

/**
 * The top-level `chains` object (absent or null: none), each entry checked against the chains before
 * it, `eth` first: names and configured chain ids must differ. Returns the entries only; undefined
 * when any is invalid.
 */
export function parseChainEntries(
  c: Checker,
  value: unknown,
  eth: ChainConfig | undefined,
): ChainConfig[] | undefined {
  if (value === undefined || value === null) return [];
  const obj = c.object('chains', value);
  if (!obj) return undefined;
  const names: string[] = [CHAIN_DEFAULTS.ethName];
  const ids = new Map<number, string>();
  if (eth?.chainId !== undefined) ids.set(eth.chainId, 'eth_config');
  const chains: ChainConfig[] = [];
  let ok = true;
  for (const [name, spec] of Object.entries(obj)) {
    const path = `chains.${name}`;
    let nameOk = checkName(c, path, name, 'chain name');
    const twin = names.find((other) => sameName(other, name));
    if (nameOk && twin !== undefined) {
      const which = twin === CHAIN_DEFAULTS.ethName ? 'ETH (the chain of eth_config)' : twin;
      c.problem(path, name, `a chain name different from ${which} (names match in any case)`);
      nameOk = false;
    }
    names.push(name);
    const entry = c.object(path, spec);
    const chain = entry ? parseChainFields(c, path, name, entry, true) : undefined;
    const chainId = chain?.chainId;
    if (chainId !== undefined) {
      const other = ids.get(chainId);
      if (other !== undefined) {
        c.problem(`${path}.chainId`, chainId, `a chain id not already used by ${other}`);
        ok = false;
      } else ids.set(chainId, path);
    }
    if (!chain || !nameOk) ok = false;
    else chains.push(chain);
  }
  return ok ? chains : undefined;
}

/** A Config built in code (the devnet, tests) with the one chain `ETH`: fills in what parseConfig would. */
export function singleChainConfig(
  config: Omit<Config, 'chain' | 'chains'> & {
    chain: Omit<ChainConfig, 'native' | 'rpcUrls' | 'wsUrls'> & Partial<ChainConfig>;
  },
): Config {
  const eth = config.chain;
  const chain: ChainConfig = {
    ...eth,
    native: eth.native ?? { ...CHAIN_DEFAULTS.ethNative },
    rpcUrls: eth.rpcUrls ?? [eth.rpcUrl],
    wsUrls: eth.wsUrls ?? [eth.wsUrl],
  };
  return { ...config, chain, chains: [chain] };
}

/**
 * The address the native coin is stored under wherever a token's contract address goes (deposits,
 * payouts): the well-known placeholder `0xeeee…eeee`, which no contract can have.
 */
export const NATIVE_ADDRESS_LC = '0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee' as const;

/** Whether `addressLc` (lowercase) stands for the native coin rather than a token contract. */
export function isNativeAddress(addressLc: string): boolean {
  return addressLc === NATIVE_ADDRESS_LC;
}

/** What a chain's requests may name by `symbol`: its tokens, then its native coin as a token at `NATIVE_ADDRESS_LC`. */
export function assetsOf(chain: Pick<ChainConfig, 'tokens' | 'native'>): TokenConfig[] {
  return [
    ...chain.tokens,
    { symbol: chain.native.symbol, addressLc: NATIVE_ADDRESS_LC, decimals: chain.native.decimals },
  ];
}
