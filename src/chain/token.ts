import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Abi, encodeDeployData, type Hex } from 'viem';

/**
 * The ERC-20 surface the service uses, shaped after mainnet USDT: `transfer` and `transferFrom`
 * return nothing. viem's `erc20Abi` declares a bool output, so simulating or decoding a USDT
 * transfer with it fails; never decode a result from these calls, credit from the Transfer log.
 */
export const usdtAbi = [
  {
    type: 'function',
    name: 'transfer',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'to', type: 'address' },
      { name: 'value', type: 'uint256' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'transferFrom',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'from', type: 'address' },
      { name: 'to', type: 'address' },
      { name: 'value', type: 'uint256' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'approve',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'spender', type: 'address' },
      { name: 'value', type: 'uint256' },
    ],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'allowance',
    stateMutability: 'view',
    inputs: [
      { name: 'owner', type: 'address' },
      { name: 'spender', type: 'address' },
    ],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'balanceOf',
    stateMutability: 'view',
    inputs: [{ name: 'account', type: 'address' }],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'totalSupply',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'decimals',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'uint8' }],
  },
  {
    type: 'function',
    name: 'symbol',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'string' }],
  },
  {
    type: 'function',
    name: 'name',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'string' }],
  },
  {
    type: 'event',
    name: 'Transfer',
    inputs: [
      { name: 'from', type: 'address', indexed: true },
      { name: 'to', type: 'address', indexed: true },
      { name: 'value', type: 'uint256', indexed: false },
    ],
  },
  {
    type: 'event',
    name: 'Approval',
    inputs: [
      { name: 'owner', type: 'address', indexed: true },
      { name: 'spender', type: 'address', indexed: true },
      { name: 'value', type: 'uint256', indexed: false },
    ],
  },
] as const;

/** The Transfer event item, for `getLogs({ event: transferEvent })` and `decodeEventLog`. */
export const transferEvent = usdtAbi.find(
  (item): item is Extract<(typeof usdtAbi)[number], { type: 'event'; name: 'Transfer' }> =>
    item.type === 'event' && item.name === 'Transfer',
)!;

/** keccak256('Transfer(address,address,uint256)'): topic0 of every ERC-20 Transfer log. */
/** The topic of `Transfer(address,address,uint256)`. */
export { TRANSFER_TOPIC as transferTopic } from './transfers.js';

/** The owner-only and test-only methods of contracts/TestUSDT.sol, on top of `usdtAbi`. */
export const testUsdtAbi = [
  ...usdtAbi,
  {
    type: 'function',
    name: 'mint',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'to', type: 'address' },
      { name: 'amount', type: 'uint256' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'issue',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'amount', type: 'uint256' }],
    outputs: [],
  },
  { type: 'function', name: 'pause', stateMutability: 'nonpayable', inputs: [], outputs: [] },
  { type: 'function', name: 'unpause', stateMutability: 'nonpayable', inputs: [], outputs: [] },
  {
    type: 'function',
    name: 'paused',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'owner',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: '', type: 'address' }],
  },
  {
    type: 'function',
    name: 'addBlackList',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'user', type: 'address' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'removeBlackList',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'user', type: 'address' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'isBlackListed',
    stateMutability: 'view',
    inputs: [{ name: '', type: 'address' }],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'multiTransfer',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'to', type: 'address[]' },
      { name: 'amounts', type: 'uint256[]' },
    ],
    outputs: [],
  },
] as const;

export interface TestTokenArtifact {
  /** The ABI as compiled; use `testUsdtAbi` where viem's types matter. */
  abi: Abi;
  bytecode: Hex;
}

let cachedArtifact: TestTokenArtifact | undefined;

/**
 * Loads contracts/TestUSDT.json. Read from disk rather than imported so the same code works from
 * src/ (tsx, vitest) and from dist/ (the build's rootDir is src/, which a JSON import outside it
 * would break): walk up to the package root and read it from there.
 */
export function testTokenArtifact(): TestTokenArtifact {
  if (cachedArtifact) return cachedArtifact;
  const path = join(findPackageRoot(dirname(fileURLToPath(import.meta.url))), 'contracts', 'TestUSDT.json');
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { abi?: unknown; bytecode?: unknown };
  if (
    !Array.isArray(parsed.abi) ||
    typeof parsed.bytecode !== 'string' ||
    !parsed.bytecode.startsWith('0x')
  ) {
    throw new Error(`${path} is not a { abi, bytecode } artifact: run npm run contracts`);
  }
  cachedArtifact = { abi: parsed.abi as Abi, bytecode: parsed.bytecode as Hex };
  return cachedArtifact;
}

/** The creation code of TestUSDT with its constructor argument: the token's decimals (6 like USDT on Ethereum, 18 like BSC-USD). */
export function testTokenDeployData(decimals = 6): Hex {
  const { abi, bytecode } = testTokenArtifact();
  return encodeDeployData({ abi, bytecode, args: [decimals] });
}

const packageName = 'm2pool-payment';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === packageName) return dir;
    } catch {
      // No package.json here (or unreadable): keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package root of ${packageName} not found above ${start}`);
    dir = parent;
  }
}
