import type { Hex } from 'viem';
import { formatAmount } from '../src/money/amount.js';
import type { PayoutKind } from '../src/store/schema.js';
import { deployTestBatcher } from '../test/helpers/batcher.js';
import { createTestChain, type TestChain } from '../test/helpers/chain.js';
import { newWallet } from '../test/helpers/payouts.js';
import { randomAddress, until } from '../test/helpers/service.js';
import { startStack } from '../test/helpers/stack.js';
import type { BenchDb } from './options.js';
import type { Figure } from './report.js';

/**
 * `payout_gas_batched` against `payout_gas_single` (issue 14): the gas per payout of `count` token
 * withdrawals the collection wallet pays, to fresh recipients, with batching on (one batcher transaction;
 * the one-off allowance left out and reported apart) and off (one transfer each). Both through the
 * service, on one anvil with the test token behaving as mainnet USDT (no return value). Gas is exact, so
 * one run of each suffices.
 */

const E6 = 1_000_000n;

/** The gas of every transaction of each kind the collection wallet sent for `count` withdrawals. */
async function gasOfRun(db: BenchDb, chain: TestChain, count: number, batched: boolean) {
  const collection = newWallet();
  await chain.setEthBalance(collection.address, 10n ** 20n);
  await chain.mint(collection.address, 1_000_000n * E6);
  const batcher = batched ? await deployTestBatcher(chain, collection) : undefined;
  const stack = await startStack({
    db,
    chain,
    collection,
    collect: ['withdrawResp'],
    configure(config) {
      if (batcher)
        config.chains[0]!.batch = { enabled: true, addressLc: batcher, maxSize: count, maxWaitMs: 5_000 };
    },
  });
  try {
    for (let i = 0; i < count; i++) {
      await stack.withdraw({
        queue_id: `gas-${batched ? 'b' : 's'}-${db}-${i}`,
        from_address: randomAddress(),
        to_address: randomAddress(),
        amount: formatAmount(E6 + BigInt(i), 6),
      });
    }
    const answers = stack.collector('withdrawResp');
    await until(() => answers.messages.length >= count, 180_000, 'every withdrawal answered');
    const failed = answers.messages.filter((m) => (m.json as { status: number }).status !== 1).length;
    if (failed) throw new Error(`${failed} of ${count} withdrawals were not paid`);
    const rows = await stack.service.db
      .selectFrom('payouts')
      .select(['kind', 'tx_hash'])
      .where('state', '=', 'confirmed')
      .execute();
    const gasBy = new Map<PayoutKind, bigint>();
    for (const hash of new Set(rows.map((r) => r.tx_hash))) {
      const kind = rows.find((r) => r.tx_hash === hash)!.kind;
      const receipt = await chain.publicClient.getTransactionReceipt({ hash: hash as Hex });
      // A batch's members share its hash: count the transaction once, under the batch.
      const owner = rows.some((r) => r.tx_hash === hash && r.kind === 'batch') ? 'batch' : kind;
      gasBy.set(owner, (gasBy.get(owner) ?? 0n) + receipt.gasUsed);
    }
    return gasBy;
  } finally {
    await stack.teardown();
  }
}

export async function runPayoutGas(
  db: BenchDb,
  count: number,
  progress: (t: string) => void,
): Promise<Figure> {
  // The stack's anvil mines on demand: a block every 250 ms plays a chain.
  const chain = await createTestChain({ noMining: true });
  const mining = setInterval(() => void chain.mine(1).catch(() => undefined), 250);
  try {
    await chain.deployToken(6);
    progress(`payout_gas (${db}): ${count} withdrawals, one transfer each`);
    const single = await gasOfRun(db, chain, count, false);
    progress(`payout_gas (${db}): ${count} withdrawals, batched`);
    const batched = await gasOfRun(db, chain, count, true);
    const singleGas = Number(single.get('withdraw') ?? 0n) / count;
    const batchGas = Number(batched.get('batch') ?? 0n) / count;
    const approve = batched.get('approve') ?? 0n;
    return {
      name: 'payout_gas_batched',
      db,
      value: batchGas,
      unit: 'gas/payout',
      baseline: singleGas,
      baselineLabel: `payout_gas_single: ${count} withdrawals, one transfer each`,
      goal: { op: '≤', ratio: 0.6 },
      note: `${count} withdrawals to fresh recipients; the batcher's one-off approve (${approve} gas) left out`,
    };
  } finally {
    clearInterval(mining);
    await chain.stop();
  }
}
