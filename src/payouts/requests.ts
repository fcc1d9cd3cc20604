import type { HandlerOutcome, IncomingMessage } from '../amqp/consumer.js';
import type { Common } from '../context/common.js';
import {
  type PayRequest,
  validatePay,
  validateWithdraw,
  validationContextFor,
  type WithdrawRequest,
} from '../protocol/messages.js';
import { inPolicyTransaction, requestedSince } from '../store/repos/payouts.js';
import type { Db, NewPayout } from '../store/schema.js';
import { COUNTED_STATES, decidePolicy, needsDailySums, POLICY_WINDOW_MS } from './policies.js';
import { failure, payoutResponse } from './respond.js';
import { createPayout } from './state.js';

export interface PayoutRequestHandlerDeps {
  db: Db;
  /** The message-signing secret. */
  signKey: string;
  kind: 'withdraw' | 'pay';
  /** After a commit: wake the outbox relay and the payout worker. */
  afterCommit?: () => void;
}

/**
 * A withdraw or pay request. Its queue_id is unique for ever: the row is inserted only if the id is new,
 * so a repeated request causes nothing but a log line. A request that cannot be carried out is stored as
 * failed together with its `status 0` answer; a valid one is stored `accepted` for the worker.
 */
export function createPayoutRequestHandler(common: Common, deps: PayoutRequestHandlerDeps) {
  const { config } = common;
  const { db, signKey, kind } = deps;
  const logger = common.logger.child({ component: kind });
  const validate = kind === 'pay' ? validatePay : validateWithdraw;

  type Validated = ReturnType<typeof validatePay> | ReturnType<typeof validateWithdraw>;

  /** The configured chain a request names (in any letter case, as validation matches it), if any. */
  function configuredChain(chain: string) {
    return config.chains.find((c) => c.name.toLowerCase() === chain.toLowerCase());
  }

  /** A refused request, stored failed with its error; its fields as sent, cut to their columns. */
  function refusedRow(result: Extract<Validated, { kind: 'refuse' }>, now: number): NewPayout {
    const r = result.request;
    return {
      queue_id: r.queueId,
      kind,
      order_id: r.type === 'pay' ? r.orderId : null,
      // Echoed whole in the answer, from the request itself.
      chain: r.chain.slice(0, 16),
      // No engine ever reads a refused row; a chain that is not configured keeps the request's spelling.
      chain_name: (configuredChain(r.chain)?.name ?? r.chain).slice(0, 16),
      symbol: r.symbol.slice(0, 16),
      token_address: '',
      from_address: r.fromAddress.slice(0, 42),
      to_address: r.toAddress.slice(0, 42),
      amount_raw: '0',
      amount_text: r.amountText.slice(0, 100),
      state: 'failed',
      error_code: result.code,
      error_message: result.message.slice(0, 1000),
      ...emptyProgress,
      created_at: now,
      updated_at: now,
    };
  }

  /** A valid request, stored accepted for the worker. */
  function acceptedRow(r: WithdrawRequest | PayRequest, now: number): NewPayout {
    return {
      queue_id: r.queueId,
      kind,
      order_id: r.type === 'pay' ? r.orderId : null,
      // As sent, to be echoed as a refusal is (they match the configured names but for letter case, so
      // they fit the columns); the worker pays `token_address`.
      chain: r.chain,
      // The configured name: the payout engine of that chain is the one that pays it.
      chain_name: r.chainName,
      symbol: r.symbol,
      // The token's contract, or NATIVE_ADDRESS_LC for the native coin (sent as a plain value transfer).
      token_address: r.token.addressLc,
      from_address: r.fromAddressLc,
      to_address: r.toAddressLc,
      amount_raw: r.amountRaw.toString(),
      amount_text: r.amountText,
      state: 'accepted',
      error_code: null,
      error_message: null,
      ...emptyProgress,
      created_at: now,
      updated_at: now,
    };
  }

  interface Stored {
    row: NewPayout;
    inserted: boolean;
    /** Why a held payout is held. */
    reason?: string;
  }

  /** A request refused from the message alone: stored failed with its answer. */
  async function storeRefused(result: Extract<Validated, { kind: 'refuse' }>, now: number): Promise<Stored> {
    const row = refusedRow(result, now);
    const ids = result.request;
    const answer = payoutResponse(
      config.rmq,
      signKey,
      { ...row, chain: ids.chain, symbol: ids.symbol },
      failure(result.code, row.error_message ?? ''),
      // A refusal's fee is 0 whatever the decimals; a request naming no configured chain has none.
      configuredChain(ids.chain) ?? { native: { decimals: 18 } },
    );
    const detail = { kind, error: row.error_code, message: row.error_message };
    const inserted = await db.transaction().execute((trx) => createPayout(trx, row, { detail }, answer));
    return { row, inserted };
  }

  /**
   * A valid request, under its chain's withdrawal policy for the asset (policies.ts): accepted, held for
   * the operator, or refused with `policy_violation`. The daily sums are read in the transaction that
   * stores the request, under the asset's policy lock (`inPolicyTransaction`), so two requests at once
   * cannot both pass a daily limit.
   */
  async function storeValid(r: WithdrawRequest | PayRequest, now: number): Promise<Stored> {
    const chain = configuredChain(r.chainName);
    const policy = chain?.policies?.[r.token.symbol];
    const daily = needsDailySums(policy);
    const decide = async (trx: Db): Promise<Stored> => {
      const accepted = acceptedRow(r, now);
      const sums = daily
        ? await requestedSince(
            trx,
            {
              chainName: r.chainName,
              tokenAddress: r.token.addressLc,
              fromLc: r.fromAddressLc,
              sinceMs: now - POLICY_WINDOW_MS,
            },
            COUNTED_STATES,
          )
        : undefined;
      const decision = decidePolicy(
        policy,
        {
          chainName: r.chainName,
          symbol: r.token.symbol,
          decimals: r.token.decimals,
          amountRaw: r.amountRaw,
          fromLc: r.fromAddressLc,
          toLc: r.toAddressLc,
        },
        sums,
      );
      if (decision.kind === 'refuse') {
        const row: NewPayout = {
          ...accepted,
          state: 'failed',
          error_code: 'policy_violation',
          error_message: decision.message.slice(0, 1000),
        };
        const answer = payoutResponse(
          config.rmq,
          signKey,
          row,
          failure('policy_violation', row.error_message ?? ''),
          chain ?? { native: { decimals: 18 } },
        );
        const detail = { kind, error: row.error_code, rule: decision.rule, message: row.error_message };
        return { row, inserted: await createPayout(trx, row, { detail }, answer) };
      }
      const held = decision.kind === 'hold';
      const row: NewPayout = held ? { ...accepted, state: 'held' } : accepted;
      const detail = {
        kind,
        from: row.from_address,
        to: row.to_address,
        amount: row.amount_text,
        ...(held ? { held: decision.reason } : {}),
      };
      const inserted = await createPayout(trx, row, { detail });
      return held ? { row, inserted, reason: decision.reason } : { row, inserted };
    };
    return daily
      ? inPolicyTransaction(db, `${r.chainName}:${r.token.addressLc}`, decide)
      : db.transaction().execute(decide);
  }

  return async (msg: IncomingMessage): Promise<HandlerOutcome> => {
    // The bytes, not the text: invalid UTF-8 is dead-lettered, never decoded with replacement characters.
    const result = validate(msg.raw, validationContextFor(config, signKey));
    if (result.kind === 'reject') {
      logger.warn({ reason: result.reason }, `${kind} request rejected to the dead-letter queue`);
      return { deadLetter: result.reason };
    }
    // What is echoed in the answer must be stored whole: an id longer than its column cannot be answered
    // faithfully, so such a request is not answered at all (MySQL would refuse the row, for ever).
    const ids = result.request;
    const tooLong =
      ids.queueId.length > MAX_ID_LENGTH
        ? 'queue_id'
        : ids.type === 'pay' && ids.orderId.length > MAX_ID_LENGTH
          ? 'order_id'
          : undefined;
    if (tooLong) {
      const reason = `${tooLong} is longer than ${MAX_ID_LENGTH} characters`;
      logger.warn({ reason }, `${kind} request rejected to the dead-letter queue`);
      return { deadLetter: reason };
    }
    const now = Date.now();
    const stored =
      result.kind === 'refuse' ? await storeRefused(result, now) : await storeValid(result.request, now);
    const { row, inserted } = stored;
    const queueId = row.queue_id;
    if (!inserted) {
      logger.warn({ queueId }, `${kind} request with a queue_id seen before: ignored`);
      return 'ack';
    }
    if (row.state === 'failed')
      logger.warn({ queueId, code: row.error_code, reason: row.error_message }, `${kind} refused`);
    else if (row.state === 'held')
      logger.warn(
        { queueId, to: row.to_address, amount: row.amount_text, reason: stored.reason },
        `${kind} held for the operator's approval (payout approve / payout reject)`,
      );
    else logger.info({ queueId, to: row.to_address, amount: row.amount_text }, `${kind} accepted`);
    deps.afterCommit?.();
    return 'ack';
  };
}

/** The length of the queue_id and order_id columns. */
const MAX_ID_LENGTH = 191;

const emptyProgress = {
  sender: null,
  nonce: null,
  gas_limit: null,
  tx_hash: null,
  last_sent_block: null,
  mined_block: null,
  mined_block_hash: null,
  reverted: 0,
  fee_wei: null,
} as const;
