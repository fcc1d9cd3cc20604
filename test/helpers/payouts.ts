import { randomBytes } from 'node:crypto';
import type { Hex } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import type { DbConfig } from '../../src/config/types.js';
import { stringifyMessage } from '../../src/protocol/json.js';
import { withSignature } from '../../src/protocol/sign.js';
import { createDatabase } from '../../src/store/db.js';
import { migrateToLatest } from '../../src/store/migrate.js';
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
  symbol?: string;
}): string {
  // A number amount is written as a JSON number with its text as given.
  const body = withSignature(
    { chain: 'ETH', symbol: 'USDT', timestamp: Math.floor(Date.now() / 1000), ...fields },
    TEST_SIGN_KEY,
  );
  return stringifyMessage(body);
}
