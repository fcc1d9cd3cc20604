import type { Hex } from 'viem';
import { assetsOf } from '../config/chains.js';
import type { Config } from '../config/types.js';
import { PaymentError } from '../internal/errors.js';
import { insertIssuedAddress, issuedToUser, lockHdRoot, nextHdIndex } from '../store/repos/addresses.js';
import type { OutboxMessage } from '../store/repos/outbox.js';
import { enqueueOutbox } from '../store/repos/outbox.js';
import { watchAddress } from '../store/repos/watched.js';
import type { Db } from '../store/schema.js';
import type { Vault } from '../vault/vault.js';

export interface IssuedAddress {
  address: Hex;
  index: number;
  /** False when the user already had it (the same address is given again). */
  created: boolean;
}

/**
 * The deposit address of a business user: the one issued before, or the next HD index's, stored and
 * watched for every asset (each token and the native coin) of every configured chain, all in one
 * transaction, with `answer(issued)` (the response, when there is one) written to the outbox in it too.
 * So an address is handed out only once it is watched, and the same `user_ref` always gets the same one.
 * Throws `hd_root_missing` before `wallet init-hd`.
 */
export async function issueAddress(
  db: Db,
  deps: { config: Pick<Config, 'chains'>; vault: Pick<Vault, 'hdAddressAt'> },
  userRef: string,
  answer?: (issued: IssuedAddress) => OutboxMessage,
  now = Date.now(),
): Promise<IssuedAddress> {
  return db.transaction().execute(async (trx) => {
    // The root row's lock serialises issuing (MySQL; SQLite's write transaction does it anyway): the
    // next index is read and taken by one request at a time.
    const root = await lockHdRoot(trx);
    if (!root) {
      throw new PaymentError(
        'hd_root_missing',
        'no HD root: the operator creates one with `m2pool-payment wallet init-hd`',
      );
    }
    const known = await issuedToUser(trx, userRef);
    let issued: IssuedAddress;
    if (known) {
      issued = { address: known.address as Hex, index: Number(known.hd_index), created: false };
    } else {
      const index = await nextHdIndex(trx);
      const address = deps.vault.hdAddressAt(root, index);
      await insertIssuedAddress(trx, { hd_index: index, user_ref: userRef, address }, now);
      issued = { address, index, created: true };
    }
    // Watched again for an address issued before, too: a chain or token added to the config since is
    // watched from the next request on (watching twice is harmless).
    for (const chain of deps.config.chains) {
      for (const asset of assetsOf(chain)) {
        await watchAddress(trx, { chain: chain.name, symbol: asset.symbol, address: issued.address }, now);
      }
    }
    if (answer) await enqueueOutbox(trx, [answer(issued)], now);
    return issued;
  });
}
