import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Abi,
  type Address,
  encodeDeployData,
  encodeFunctionData,
  type Hex,
  keccak256,
  parseAbi,
  stringToHex,
} from 'viem';

/**
 * The batcher contract (contracts/Batcher.sol): the owner (the collection wallet) pays many token
 * withdrawals in one transaction, each drawn from the owner by `transferFrom`, each reported by its own
 * event. The ABI is written out here for viem's types; batcher.test.ts holds it to the compiled one.
 */
export const batcherAbi = parseAbi([
  'constructor(address owner_)',
  'function batchTransfer(address token, address[] to, uint256[] amounts, bytes32[] refs) returns (uint256 failed)',
  'function owner() view returns (address)',
  'event Transferred(bytes32 indexed ref, address indexed to, uint256 amount)',
  'event TransferFailed(bytes32 indexed ref, address indexed to, uint256 amount)',
  'error NotOwner()',
  'error LengthMismatch()',
  'error NotAContract()',
  'error OutOfGas()',
]);

export interface ContractArtifact {
  abi: Abi;
  bytecode: Hex;
}

const PACKAGE_NAME = 'm2pool-payment';
const artifacts = new Map<string, ContractArtifact>();

/**
 * contracts/NAME.json as `npm run contracts` wrote it. Read from disk (not imported) so the same code
 * runs from src/ and from dist/: the package root is found by walking up from this file.
 */
export function readContractArtifact(name: string): ContractArtifact {
  const cached = artifacts.get(name);
  if (cached) return cached;
  const path = join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'contracts', `${name}.json`);
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { abi?: unknown; bytecode?: unknown };
  if (!Array.isArray(parsed.abi) || typeof parsed.bytecode !== 'string' || !parsed.bytecode.startsWith('0x'))
    throw new Error(`${path} is not a { abi, bytecode } artifact: run npm run contracts`);
  const artifact = { abi: parsed.abi as Abi, bytecode: parsed.bytecode as Hex };
  artifacts.set(name, artifact);
  return artifact;
}

function packageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === PACKAGE_NAME) return dir;
    } catch {
      // No package.json here: keep walking up.
    }
    if (dirname(dir) === dir) throw new Error(`package root of ${PACKAGE_NAME} not found above ${start}`);
  }
}

/** The creation code of a batcher owned by `owner` (the only caller, and the wallet payments are drawn from). */
export function batcherDeployData(owner: Address): Hex {
  return encodeDeployData({
    abi: batcherAbi,
    bytecode: readContractArtifact('Batcher').bytecode,
    args: [owner],
  });
}

/** One payment of a batch: `ref` tags its event in the receipt (see `batchRef`). */
export interface BatchItem {
  to: Address;
  amountRaw: bigint;
  ref: Hex;
}

/**
 * The tag of a payment in the batch's events: keccak256 of its id (a payout's queue_id), so any id fits
 * the contract's bytes32 and two ids never share a tag.
 */
export function batchRef(id: string): Hex {
  return keccak256(stringToHex(id));
}

/** The calldata of `batchTransfer` for `items` of `token`, in their order. Refs must differ (events are matched by them). */
export function batchTransferData(token: Address, items: readonly BatchItem[]): Hex {
  if (items.length === 0) throw new Error('a batch needs at least one payment');
  const refs = new Set(items.map((i) => i.ref.toLowerCase()));
  if (refs.size !== items.length) throw new Error('two payments of a batch share a ref');
  for (const i of items)
    if (i.amountRaw < 0n) throw new Error(`payment ${i.ref}: negative amount ${i.amountRaw}`);
  return encodeFunctionData({
    abi: batcherAbi,
    functionName: 'batchTransfer',
    args: [token, items.map((i) => i.to), items.map((i) => i.amountRaw), items.map((i) => i.ref)],
  });
}
