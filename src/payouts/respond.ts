import type { Config } from '../config/types.js';
import type { ErrorCode } from '../protocol/errors.js';
import { type PayoutOutcome, payResponse, withdrawResponse } from '../protocol/responses.js';
import type { OutboxMessage } from '../store/repos/outbox.js';
import type { PayoutKind, PayoutRow } from '../store/schema.js';

/** The kinds a business asked for and is answered about; the others are the treasury's own transfers. */
export function isAnsweredKind(kind: PayoutKind): kind is 'withdraw' | 'pay' {
  return kind === 'withdraw' || kind === 'pay';
}

/** What the answer needs of the payout's chain: the fee is paid in its native coin, in its decimals. */
export interface FeeCoin {
  native: { decimals: number };
}

/**
 * The one response of a payout, as an outbox row: `status 1`, or `status 0` with its error. `chain` is
 * the payout's chain (a ChainContext or ChainConfig): the fee is formatted in its native coin's decimals,
 * never the token's. Undefined for a treasury transfer (`sweep`, `gas_topup`): the service moved its own
 * money, and no business asked (its audit trail records the outcome).
 */
export function payoutResponse(
  rmq: Config['rmq'],
  signKey: string,
  row: Pick<
    PayoutRow,
    | 'queue_id'
    | 'kind'
    | 'order_id'
    | 'chain'
    | 'symbol'
    | 'amount_text'
    | 'tx_hash'
    | 'sender'
    | 'from_address'
    | 'to_address'
    | 'fee_wei'
  >,
  outcome: PayoutOutcome,
  chain: FeeCoin,
): OutboxMessage | undefined {
  if (!isAnsweredKind(row.kind)) return undefined;
  const queue = row.kind === 'pay' ? rmq.payResp : rmq.withdrawResp;
  const input = {
    queueId: row.queue_id,
    amountText: row.amount_text,
    chain: row.chain,
    symbol: row.symbol,
    txHash: row.tx_hash ?? '',
    fromAddress: row.sender ?? row.from_address,
    toAddress: row.to_address,
    feeWei: BigInt(row.fee_wei ?? '0'),
    feeDecimals: chain.native.decimals,
    ...outcome,
  };
  const body =
    row.kind === 'pay'
      ? payResponse({ ...input, orderId: row.order_id ?? '' }, signKey)
      : withdrawResponse(input, signKey);
  return {
    topic: row.kind,
    subject: `${row.kind}:${row.queue_id}`,
    exchange: queue.exchange,
    routingKey: queue.routing[0]!,
    body,
  };
}

export function failure(error: ErrorCode, errorMessage: string): PayoutOutcome {
  return { status: 0, error, errorMessage };
}
