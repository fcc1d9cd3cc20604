import type { ErrorCode } from '../protocol/errors.js';

/**
 * The messages of the client SDK, field for field as they are on the wire (docs/PROTOCOL.md §7–§8), so
 * the protocol's tables apply one to one. Amounts are exact decimal strings both ways: a JS number would
 * round an 18-decimal amount.
 */

/** One queue of a v2 `rmq_config` (PROTOCOL §2.3): a single routing key may be a plain string. */
export interface QueueJson {
  queue: string;
  exchange: string;
  routing: string | string[];
}

/** A v2 `rmq_config` object as it is in config.json; `sub_addr` is optional here (the `url` option wins). */
export interface RmqConfigJson {
  sub_addr?: string;
  topup: QueueJson;
  withdraw: QueueJson;
  pay: QueueJson;
  topup_resp: QueueJson;
  withdraw_resp: QueueJson;
  pay_resp: QueueJson;
  /** Address requests and their answers (PROTOCOL §7.4): both or neither. */
  address?: QueueJson;
  address_resp?: QueueJson;
}

/** PROTOCOL §7.1: watch `address` for deposits of `symbol` on `chain`. */
export interface TopupRequest {
  chain: string;
  symbol: string;
  address: string;
  /** Unix seconds; default now. */
  timestamp?: number;
}

/** PROTOCOL §8.1. */
export interface WithdrawRequest {
  /** Unique for ever across withdraw and pay, 1–191 characters (PROTOCOL §8.2). */
  queue_id: string;
  from_address: string;
  to_address: string;
  /** Whole tokens as an exact decimal string, such as `"12.5"` or `"1.000000000000000001"`. */
  amount: string;
  chain: string;
  symbol: string;
  /** Unix seconds; default now. */
  timestamp?: number;
}

/** PROTOCOL §8.1: a withdrawal for a merchant order. */
export interface PayRequest extends WithdrawRequest {
  /** 1–191 characters; not required to be unique. */
  order_id: string;
}

/** PROTOCOL §7.4: the deposit address of a business user, issued once per `user_ref`. */
export interface AddressRequest {
  /** Echoed in the answer, to match it. */
  request_id: string;
  /** The business's name for the user, 1–191 characters: the same one always gets the same address. */
  user_ref: string;
  /** Optional: the address is the same on every EVM chain; a chain named must be served. */
  chain?: string;
  /** Unix seconds; default now. */
  timestamp?: number;
}

/** What was published: the signed message, its exact JSON text and the queue it was routed to. */
export interface SentRequest<T> {
  message: T & { timestamp: number; sign: string };
  body: string;
  /** The request queue's name (the message went to its exchange with its first routing key). */
  queue: string;
}

/** A code of PROTOCOL §9; the list only grows, so a newer service may send one this SDK does not name. */
export type AnswerErrorCode = ErrorCode | (string & {});

/** PROTOCOL §7.2: a deposit seen (2), final (1) or lost to a reorganisation (0). */
export interface DepositAnswer {
  address: string;
  status: 0 | 1 | 2;
  chain: string;
  symbol: string;
  /** Exact decimal string; can be `"0"` (a zero-value transfer: credit nothing). */
  amount: string;
  tx_hash: string;
  /** Absent for a native-coin deposit (it has no log). */
  log_index?: number;
  block_height: number;
  from_address: string;
  timestamp: number;
  sign: string;
}

/** PROTOCOL §7.1: a topup request that could not be carried out. */
export interface TopupRefusalAnswer {
  address: string;
  status: 0;
  chain: string;
  symbol: string;
  error: AnswerErrorCode;
  error_message: string;
  timestamp: number;
  sign: string;
}

/** Everything on the topup response queue. */
export type TopupAnswer = DepositAnswer | TopupRefusalAnswer;

interface PayoutAnswerFields {
  queue_id: string;
  /** The amount sent, exact decimal string (`"0"` for a refused request whose amount was no decimal). */
  amount: string;
  chain: string;
  symbol: string;
  /** `""` when nothing was sent. */
  tx_hash: string;
  from_address: string;
  to_address: string;
  /** Native coin spent on gas, exact decimal string in its decimals; `"0"` when nothing was mined. */
  fee: string;
  timestamp: number;
  sign: string;
}

/** PROTOCOL §8.4: the one answer of a withdrawal, `status 1` done and final, `status 0` failed. */
export type WithdrawAnswer =
  | (PayoutAnswerFields & { status: 1 })
  | (PayoutAnswerFields & { status: 0; error: AnswerErrorCode; error_message: string });

/** PROTOCOL §8.4: a pay answer is a withdraw answer with `order_id`. */
export type PayAnswer = WithdrawAnswer & { order_id: string };

interface AddressAnswerFields {
  request_id: string;
  user_ref: string;
  timestamp: number;
  sign: string;
}

/** PROTOCOL §7.4: the user's address (watched for every asset of every chain) and its HD index, or a refusal. */
export type AddressAnswer =
  | (AddressAnswerFields & { address: string; index: number; status: 1 })
  | (AddressAnswerFields & { status: 0; error: AnswerErrorCode; error_message: string });

/** A topup answer that is about a deposit (not the refusal of a request). */
export function isDepositAnswer(answer: TopupAnswer): answer is DepositAnswer {
  return !('error' in answer);
}

/** How an answer arrived, besides what it says. */
export interface Delivery {
  /** The response queue. */
  queue: string;
  /** The message text exactly as published (what the signature was checked over). */
  body: string;
  /** The broker handed it out before (a handler failed, or a connection dropped before its ack). */
  redelivered: boolean;
  messageId: string | undefined;
}

/** Resolves (or returns) once the answer is handled for good: the message is acknowledged after it. */
export type AnswerHandler<A> = (answer: A, delivery: Delivery) => unknown;
