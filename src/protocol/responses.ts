import { formatAmount } from '../money/amount.js';
import type { ErrorCode } from './errors.js';
import { type JsonObject, jsonNumber, stringifyMessage } from './json.js';
import { withSignature } from './sign.js';

/**
 * Builders of the exact JSON text the service publishes (PROTOCOL §5). The text is built once, when
 * the state change that causes it is committed, and published unchanged, so a re-publish after a
 * crash is byte-identical. Amounts and fees are JSON numbers whose text is the exact decimal.
 */

export interface SignOptions {
  secret: string;
  /** Unix seconds written as `timestamp`; default now. */
  nowS?: number;
}

/** `error_message` is one line: a multi-line node error would break log and UI lines downstream. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The secret alone, or with a fixed `timestamp` (tests, reproducible output). */
export type SignWith = SignOptions | string;

function finish(fields: JsonObject, sign: SignWith): string {
  const { secret, nowS } = typeof sign === 'string' ? { secret: sign, nowS: undefined } : sign;
  const timestamp = nowS ?? Math.floor(Date.now() / 1000);
  return stringifyMessage(withSignature({ ...fields, timestamp }, secret));
}

export interface TopupResponseInput {
  /** The watched recipient. */
  address: string;
  /** 2 in a block, 1 confirmed, 0 lost to a reorganisation. */
  status: 0 | 1 | 2;
  chain: string;
  symbol: string;
  amountRaw: bigint;
  decimals: number;
  txHash: string;
  /** The Transfer log's index in its block; undefined for a native-coin deposit, which has no log (the field is left out). */
  logIndex: number | undefined;
  blockHeight: bigint | number;
  fromAddress: string;
}

export function topupResponse(input: TopupResponseInput, sign: SignWith): string {
  return finish(
    {
      address: input.address,
      status: input.status,
      chain: input.chain,
      symbol: input.symbol,
      amount: jsonNumber(formatAmount(input.amountRaw, input.decimals)),
      tx_hash: input.txHash,
      ...(input.logIndex === undefined ? {} : { log_index: input.logIndex }),
      block_height: jsonNumber(BigInt(input.blockHeight)),
      from_address: input.fromAddress,
    },
    sign,
  );
}

export interface TopupRefusalInput {
  address: string;
  chain: string;
  symbol: string;
  error: ErrorCode;
  errorMessage: string;
}

/**
 * Answer to a topup request that cannot be carried out (PROTOCOL §5 "answered status 0"): the
 * deposit fields that do not exist yet are left out.
 */
export function topupRefusalResponse(input: TopupRefusalInput, sign: SignWith): string {
  return finish(
    {
      address: input.address,
      status: 0,
      chain: input.chain,
      symbol: input.symbol,
      error: input.error,
      error_message: oneLine(input.errorMessage),
    },
    sign,
  );
}

export type PayoutOutcome = { status: 1 } | { status: 0; error: ErrorCode; errorMessage: string };

export type WithdrawResponseInput = {
  queueId: string;
  /** Decimal text written as the JSON number `amount` (formatAmount(raw, decimals), or a refusal's echo). */
  amountText: string;
  chain: string;
  symbol: string;
  /** '' when nothing was sent. */
  txHash: string;
  /** The wallet that actually paid (or the requested one when nothing was sent). */
  fromAddress: string;
  toAddress: string;
  /** Native coin spent on gas, in its base units (wei); 0n when nothing was sent. */
  feeWei: bigint;
  /** The decimals of the chain's native coin, which the fee is paid in (18 on every EVM chain so far). */
  feeDecimals: number;
} & PayoutOutcome;

export type PayResponseInput = WithdrawResponseInput & { orderId: string };

function payoutFields(input: WithdrawResponseInput, orderId: string | undefined): JsonObject {
  return {
    queue_id: input.queueId,
    ...(orderId === undefined ? {} : { order_id: orderId }),
    status: input.status,
    amount: jsonNumber(input.amountText),
    chain: input.chain,
    symbol: input.symbol,
    tx_hash: input.txHash,
    from_address: input.fromAddress,
    to_address: input.toAddress,
    fee: jsonNumber(formatAmount(input.feeWei, input.feeDecimals)),
    ...(input.status === 0 ? { error: input.error, error_message: oneLine(input.errorMessage) } : {}),
  };
}

export function withdrawResponse(input: WithdrawResponseInput, sign: SignWith): string {
  return finish(payoutFields(input, undefined), sign);
}

export function payResponse(input: PayResponseInput, sign: SignWith): string {
  return finish(payoutFields(input, input.orderId), sign);
}

export type AddressResponseInput = {
  requestId: string;
  userRef: string;
} & ({ status: 1; address: string; index: number } | { status: 0; error: ErrorCode; errorMessage: string });

/**
 * The answer to an address request (PROTOCOL §7.4): the user's deposit address and its HD index, or
 * `status 0` with an error (no address fields).
 */
export function addressResponse(input: AddressResponseInput, sign: SignWith): string {
  return finish(
    {
      request_id: input.requestId,
      user_ref: input.userRef,
      ...(input.status === 1
        ? { address: input.address, index: input.index, status: 1 }
        : { status: 0, error: input.error, error_message: oneLine(input.errorMessage) }),
    },
    sign,
  );
}
