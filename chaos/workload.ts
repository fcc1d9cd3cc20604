/**
 * The workload of a run, all from the seed: three payer wallets and a collection wallet (keys in the
 * vault), the withdrawals and payments, what each wallet must hold to pay them, and the deposits with the
 * addresses (registered by topup requests) they go to.
 */
import type { Address, Hex } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import type { TestWallet } from '../test/helpers/payouts.js';
import type { ChaosOptions } from './options.js';
import type { Random } from './random.js';
import type { PayoutRequest } from './verify.js';

export const USDT = 1_000_000n;

export interface Workload {
  payers: TestWallet[];
  collection: TestWallet;
  payouts: PayoutRequest[];
  /** What each paying wallet (lowercase) pays in all. */
  need: Map<string, bigint>;
  /** Deposit amounts, in the order they are scheduled. */
  deposits: bigint[];
  depositAddresses: Address[];
}

export function planWorkload(plan: Random, o: Pick<ChaosOptions, 'seed' | 'payouts' | 'deposits'>): Workload {
  const wallet = (): TestWallet => {
    const privateKey = plan.hex(32) as Hex;
    return { privateKey, address: privateKeyToAddress(privateKey).toLowerCase() as Hex };
  };
  const payers = [wallet(), wallet(), wallet()];
  const collection = wallet();

  const payouts: PayoutRequest[] = [];
  const need = new Map<string, bigint>();
  for (let i = 0; i < o.payouts; i++) {
    const role = plan.chance(0.5) ? 'withdraw' : 'pay';
    // One in five names a wallet the vault does not hold: the collection wallet pays those.
    const own = plan.chance(0.8);
    const from = (own ? plan.pick(payers).address : plan.hex(20)) as Address;
    const raw = BigInt(plan.int(1, 50)) * USDT + BigInt(plan.int(0, 999_999));
    const payer = own ? from : collection.address;
    need.set(payer, (need.get(payer) ?? 0n) + raw);
    const queueId = `chaos-${o.seed}-${i}`;
    const orderId = role === 'pay' ? `order-${queueId}` : undefined;
    payouts.push({ queueId, role, orderId, from, to: plan.hex(20) as Address, raw });
  }
  const deposits = Array.from(
    { length: o.deposits },
    () => BigInt(plan.int(1, 1_000)) * USDT + BigInt(plan.int(0, 999_999)),
  );
  const depositAddresses = Array.from(
    { length: Math.max(1, Math.ceil(o.deposits / 2)) },
    () => plan.hex(20) as Address,
  );
  return { payers, collection, payouts, need, deposits, depositAddresses };
}
