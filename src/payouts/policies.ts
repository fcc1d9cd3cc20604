import type { AssetPolicy } from '../config/types.js';
import { formatAmount } from '../money/amount.js';
import type { PayoutState } from '../store/schema.js';
import { PAYOUT_STATES } from './state.js';

/**
 * Withdrawal policies (PROTOCOL §2.11): what a valid withdraw or pay request must also satisfy, per
 * chain and asset. Pure: the request handler (requests.ts) reads the daily sums in the transaction
 * that stores the request and acts on the decision.
 */

/** The daily limits look back this far (rolling, by the payouts' created_at). */
export const POLICY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * The payouts that count against a daily limit: every state but `failed` (refused, rejected, reverted,
 * unfunded: nothing of theirs was paid), `held` included (it may yet be approved).
 */
export const COUNTED_STATES: readonly PayoutState[] = PAYOUT_STATES.filter((s) => s !== 'failed');

export interface PolicyRequest {
  /** The configured chain and asset symbol, for the messages. */
  chainName: string;
  symbol: string;
  decimals: number;
  amountRaw: bigint;
  fromLc: string;
  toLc: string;
}

/** What was requested of the asset in the window before this request: in total and from its from_address. */
export interface RequestedSums {
  totalRaw: bigint;
  fromRaw: bigint;
}

export type PolicyDecision =
  | { kind: 'accept' }
  /** Stored `held` until the operator approves or rejects it. */
  | { kind: 'hold'; reason: string }
  /** Answered `status 0` with `policy_violation`; `message` names the rule and its limit. */
  | { kind: 'refuse'; rule: string; message: string };

/** Whether deciding on a request under `policy` needs the daily sums (and so the policy lock). */
export function needsDailySums(policy: AssetPolicy | undefined): boolean {
  return policy?.dailyMaxPerFromRaw !== undefined || policy?.dailyMaxTotalRaw !== undefined;
}

/**
 * The decision for one request. The rules are checked in this order, the first broken one refusing:
 * allowTo, maxPerRequest, dailyMaxPerFrom, dailyMaxTotal; then approvalAbove holds what passed. `sums`
 * is needed only when `needsDailySums(policy)`. Limits are inclusive: exactly the limit passes.
 */
export function decidePolicy(
  policy: AssetPolicy | undefined,
  request: PolicyRequest,
  sums?: RequestedSums,
): PolicyDecision {
  if (!policy) return { kind: 'accept' };
  const { symbol, chainName, amountRaw } = request;
  const amount = (raw: bigint) => `${formatAmount(raw, request.decimals)} ${symbol}`;
  const refuse = (rule: string, message: string): PolicyDecision => ({
    kind: 'refuse',
    rule,
    message: `policy ${rule}: ${message}`,
  });

  if (policy.allowToLc && !policy.allowToLc.includes(request.toLc)) {
    return refuse(
      'allowTo',
      `${request.toLc} is not an allowed recipient of ${symbol} on ${chainName} (${policy.allowToLc.length} allowed)`,
    );
  }
  if (policy.maxPerRequestRaw !== undefined && amountRaw > policy.maxPerRequestRaw) {
    return refuse(
      'maxPerRequest',
      `${amount(amountRaw)} is above the limit of ${amount(policy.maxPerRequestRaw)} per request on ${chainName}`,
    );
  }
  if (needsDailySums(policy)) {
    if (!sums) throw new Error('a daily limit is checked against the sums of the last 24 hours');
    const perFrom = policy.dailyMaxPerFromRaw;
    if (perFrom !== undefined && sums.fromRaw + amountRaw > perFrom) {
      return refuse(
        'dailyMaxPerFrom',
        `${amount(amountRaw)} from ${request.fromLc} would make ${amount(sums.fromRaw + amountRaw)} in 24 hours ` +
          `(${amount(sums.fromRaw)} before), above the limit of ${amount(perFrom)} per from_address on ${chainName}`,
      );
    }
    const total = policy.dailyMaxTotalRaw;
    if (total !== undefined && sums.totalRaw + amountRaw > total) {
      return refuse(
        'dailyMaxTotal',
        `${amount(amountRaw)} would make ${amount(sums.totalRaw + amountRaw)} in 24 hours ` +
          `(${amount(sums.totalRaw)} before), above the limit of ${amount(total)} in total on ${chainName}`,
      );
    }
  }
  if (policy.approvalAboveRaw !== undefined && amountRaw > policy.approvalAboveRaw) {
    return {
      kind: 'hold',
      reason: `policy approvalAbove: ${amount(amountRaw)} is above ${amount(policy.approvalAboveRaw)} on ${chainName}: held for the operator's approval`,
    };
  }
  return { kind: 'accept' };
}
