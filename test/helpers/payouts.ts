import { randomBytes } from 'node:crypto';
import type { Hex } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import type { DbConfig } from '../../src/config/types.js';
import { stringifyMessage } from '../../src/protocol/json.js';
import { withSignature } from '../../src/protocol/sign.js';
import { createDatabase } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import type { NewPayout } from '../../src/store/schema.js';
import { parseMasterKey } from '../../src/vault/master-key.js';
import { createVault } from '../../src/vault/vault.js';
import { TEST_MASTER_KEY, TEST_SIGN_KEY } from './service.js';

export interface TestWallet {
  address: Hex;
  privateKey: Hex;
}

export function newWallet(): TestWallet {
  const privateKey = `0x${randomBytes(32).toString('hex')}` as Hex;
  return { privateKey, address: privateKeyToAddress(privateKey).toLowerCase() as Hex };
}

/** Puts the wallets' keys in the vault of this database (as `wallet import` would). */
export async function importWallets(db: DbConfig, wallets: TestWallet[]) {
  const handle = await createDatabase(db);
  try {
    await migrateToLatest(handle.db);
    const vault = createVault({ db: handle.db, masterKey: parseMasterKey(TEST_MASTER_KEY) });
    for (const w of wallets) await vault.importKey(w.privateKey);
  } finally {
    await handle.close();
  }
}

let counter = 0;
export function queueId(prefix = 'q'): string {
  counter++;
  return `${prefix}-${Date.now()}-${counter}-${randomBytes(3).toString('hex')}`;
}

export function signedWithdraw(fields: {
  queue_id: string;
  from_address: string;
  to_address: string;
  amount: string | number;
  order_id?: string;
  /** Default ETH. */
  chain?: string;
  /** Default USDT. */
  symbol?: string;
}): string {
  // A number amount is written as a JSON number with its text as given.
  const body = withSignature(
    { chain: 'ETH', symbol: 'USDT', timestamp: Math.floor(Date.now() / 1000), ...fields },
    TEST_SIGN_KEY,
  );
  return stringifyMessage(body);
}

/** A payout row as a request would store it, accepted, for repository and state-machine tests. */
export function payoutRow(queueId: string, fields: Partial<NewPayout> = {}): NewPayout {
  return {
    queue_id: queueId,
    kind: 'withdraw',
    order_id: null,
    chain: 'ETH',
    chain_name: 'ETH',
    symbol: 'USDT',
    token_address: `0x${'1'.repeat(40)}`,
    from_address: `0x${'2'.repeat(40)}`,
    to_address: `0x${'3'.repeat(40)}`,
    amount_raw: '1000000',
    amount_text: '1',
    state: 'accepted',
    sender: null,
    nonce: null,
    gas_limit: null,
    tx_hash: null,
    last_sent_block: null,
    mined_block: null,
    mined_block_hash: null,
    reverted: 0,
    fee_wei: null,
    error_code: null,
    error_message: null,
    created_at: 1,
    updated_at: 1,
    ...fields,
  };
}
