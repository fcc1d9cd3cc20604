import type { Updateable } from 'kysely';
import { type AuditEntry, recordAudit } from '../store/repos/audit.js';
import { enqueueOutbox, type OutboxMessage } from '../store/repos/outbox.js';
import {
  insertPayoutIfNew,
  type PayoutUpdate,
  updateEachPayoutIf,
  updatePayoutIf,
  updatePayoutsIf,
} from '../store/repos/payouts.js';
import type { Db, NewPayout, PayoutKind, PayoutRow, PayoutState, PayoutTable } from '../store/schema.js';
import { isAnsweredKind } from './respond.js';

/**
 * The payout state machine: every state, every way a payout moves, and the functions through which
 * every write of a payout's state goes, each with its audit entry in the same transaction.
 *
 *   (request) ─→ accepted ─→ signed ─→ sent ─→ mined ─→ confirmed
 *       │          ↑ │                 │ │ ↑     │ ↺ (moved to another block)
 *       │          │ │                 │ │ └─────┘ (its block left the chain)
 *       │          └─┼─────────────────┘ │ (its nonce taken by another transaction: paid anew)
 *       │            │                   ├──→ confirmed (already final when first seen)
 *       └──→ failed ←┴───────────────────┴──── (refused; reverted, from sent or mined)
 *
 *   sent ─→ unresolved ─→ mined | confirmed | failed | accepted  (held for the operator; see below)
 *
 *   (request) ─→ held ─→ accepted (`payout approve`) | failed (`payout reject`: answered `rejected`)
 *   A payout above its policy's approval threshold; no worker ever reads a held payout.
 *
 *   accepted ─→ batched ─→ confirmed | failed (with its batch) | accepted (its batch never went out)
 *   A withdrawal carried by a `batch` payout (src/payouts/batches.ts): the batch is signed, sent and
 *   followed like any payout; its members only wait for it, and are settled with it.
 *
 * A state is where a payout is; an event (`replaced`: re-signed with higher fees under the same nonce)
 * happens to it without moving it, and is audited as such.
 */
export type { PayoutState };

/** For each state, the states a payout may move to from it, and why. */
export const PAYOUT_TRANSITIONS: { readonly [S in PayoutState]: readonly PayoutState[] } = {
  // above its chain's approval threshold (withdrawal policies): waits for the operator, never signed
  // until `payout approve` (then accepted, paid as usual) or `payout reject` (failed, answered `rejected`)
  held: ['accepted', 'failed'],
  // signed and stored before any broadcast; or refused (no wallet can pay, the transfer would revert); or
  // carried by a batch of the collection wallet
  accepted: ['signed', 'failed', 'batched'],
  // settled with its batch, by the batch's receipt: paid (confirmed) or refused by the token (failed); or
  // back to be paid on its own, when the batch failed before any node had it
  batched: ['confirmed', 'failed', 'accepted'],
  // broadcast (a node refusal too: the tracker sends it again or replaces it from `sent`)
  signed: ['sent'],
  // in a block; or already final when first seen (after downtime); or paid anew because a transaction
  // that is not ours took its nonce; or held for the operator when which transaction took the nonce
  // cannot be established (a lagging node must never make us pay twice)
  sent: ['mined', 'confirmed', 'failed', 'accepted', 'unresolved'],
  // our transaction found after all; or the foreign one established; or settled by the operator
  // (`payout resolve`): paid (confirmed) or not (failed)
  unresolved: ['mined', 'confirmed', 'failed', 'accepted'],
  // moved to another block, or its block left the chain (sent again); final at confirmHeight
  mined: ['mined', 'sent', 'confirmed', 'failed'],
  confirmed: [],
  failed: [],
};

/**
 * Where a new request starts: accepted; held when a withdrawal policy wants the operator's approval
 * first; or failed when refused at once (answered with it).
 */
export const INITIAL_STATES: readonly PayoutState[] = ['accepted', 'held', 'failed'];

/** Events recorded in the audit trail that leave the state as it is, and the states they happen in. */
export const PAYOUT_EVENTS = {
  // re-signed with higher fees under the same nonce, because it was not mined in time
  replaced: ['sent'],
} as const satisfies Record<string, readonly PayoutState[]>;

export type PayoutEvent = keyof typeof PAYOUT_EVENTS;

export const PAYOUT_STATES = Object.keys(PAYOUT_TRANSITIONS) as PayoutState[];
export const FINAL_PAYOUT_STATES = PAYOUT_STATES.filter((s) => PAYOUT_TRANSITIONS[s].length === 0);
export const ACTIVE_PAYOUT_STATES = PAYOUT_STATES.filter((s) => PAYOUT_TRANSITIONS[s].length > 0);
/**
 * Signed or broadcast but not known in a block: their amounts and gas may still leave the sender's
 * balance (an unresolved one may have been paid).
 */
export const IN_FLIGHT_PAYOUT_STATES: readonly PayoutState[] = ['signed', 'sent', 'unresolved'];

export function isFinal(state: PayoutState): boolean {
  return PAYOUT_TRANSITIONS[state].length === 0;
}

export function isInFlight(state: PayoutState): boolean {
  return IN_FLIGHT_PAYOUT_STATES.includes(state);
}

/** A business's payout is answered exactly once, with its final state; a treasury transfer never is. */
function needsAnswer(kind: PayoutKind, state: PayoutState): boolean {
  return isFinal(state) && isAnsweredKind(kind);
}

function assertTransition(from: PayoutState, to: PayoutState) {
  if (!PAYOUT_TRANSITIONS[from].includes(to)) throw new Error(`a payout cannot move from ${from} to ${to}`);
}

/** What a move records besides the state: the audit entry's hash, block and detail. */
export type MoveAudit = Pick<AuditEntry, 'txHash' | 'blockNumber' | 'detail'>;

export interface Move {
  to: PayoutState;
  /** Other columns written with the state. */
  set?: Omit<Updateable<PayoutTable>, 'state' | 'queue_id' | 'updated_at'>;
  audit?: MoveAudit;
  /** The payout's one answer: required exactly when `to` is final and the payout is answered (kind). */
  answer?: OutboxMessage | undefined;
}

/** The audit entry of a payout found in a block (`mined`), or final there: its hash, block, fee and outcome. */
export function minedAudit(
  mined: Pick<PayoutRow, 'tx_hash' | 'mined_block' | 'mined_block_hash' | 'fee_wei' | 'reverted'>,
  toState: 'mined' | 'confirmed' | 'failed',
): MoveAudit {
  return {
    txHash: mined.tx_hash,
    blockNumber: mined.mined_block,
    detail: {
      blockHash: mined.mined_block_hash,
      feeWei: mined.fee_wei,
      reverted: mined.reverted === 1,
      ...(toState === 'failed' ? { error: 'reverted' } : {}),
    },
  };
}

/**
 * Moves one payout on from the state it was read in, inside `trx`, with its audit entry (and its answer
 * when the new state is final). Resolves false, writing nothing, when the payout is no longer in that
 * state (another pass moved it first): the caller must then not act on the move either.
 */
export async function movePayout(
  trx: Db,
  row: Pick<PayoutRow, 'queue_id' | 'kind' | 'state' | 'version'>,
  move: Move,
  now = Date.now(),
): Promise<boolean> {
  assertTransition(row.state, move.to);
  if (needsAnswer(row.kind, move.to) !== (move.answer !== undefined)) {
    throw new Error(
      `a move of a ${row.kind} to ${move.to} ${needsAnswer(row.kind, move.to) ? 'needs' : 'cannot carry'} an answer`,
    );
  }
  const moved = await updatePayoutIf(trx, row.queue_id, row, {
    ...move.set,
    state: move.to,
    updated_at: now,
  });
  if (!moved) return false;
  await recordAudit(
    trx,
    [{ subject: 'payout', ref: row.queue_id, fromState: row.state, toState: move.to, ...move.audit }],
    now,
  );
  if (move.answer) await enqueueOutbox(trx, [move.answer], now);
  return true;
}

/**
 * Moves many payouts of the chain `chainName` from `from` to a state that is not final, with the same
 * columns: those whose current transaction is still the one in `rows` (read then). Resolves the
 * queue_ids that moved; `auditOf` gives each one's audit details.
 */
export async function movePayouts(
  trx: Db,
  chainName: string,
  rows: readonly Pick<PayoutRow, 'queue_id' | 'tx_hash'>[],
  from: PayoutState,
  move: Omit<Move, 'audit' | 'answer'>,
  auditOf: (queueId: string) => MoveAudit,
  now = Date.now(),
): Promise<string[]> {
  assertTransition(from, move.to);
  if (isFinal(move.to)) throw new Error(`moves to ${move.to} carry answers: use movePayout`);
  const hashes = rows.map((r) => r.tx_hash).filter((h): h is string => h !== null);
  const moved = await updatePayoutsIf(trx, chainName, hashes, from, {
    ...move.set,
    state: move.to,
    updated_at: now,
  });
  await recordAudit(
    trx,
    moved.map((queueId) => ({
      subject: 'payout',
      ref: queueId,
      fromState: from,
      toState: move.to,
      ...auditOf(queueId),
    })),
    now,
  );
  return moved;
}

/** Columns a payout of a group moved at once gets of its own (each its own nonce and transaction). */
export type OwnColumns = 'nonce' | 'gas_limit' | 'tx_hash';

/** One payout's move in `movePayoutGroup`. */
export interface GroupMove {
  row: Pick<PayoutRow, 'queue_id' | 'state' | 'version'>;
  own: PayoutUpdate<OwnColumns>['own'];
  audit: MoveAudit;
}

/**
 * Moves a group of payouts, all read in `from`, to a state that is not final, with the columns `set` and
 * each with its own columns and audit entry: the bulk form of `movePayout`, each move as conditional on the payout's version as read, in
 * a few statements whatever the group's size. All or nothing: throws when any payout is no longer as read,
 * and the caller's transaction, through which the error propagates, rolls back the moves already made.
 */
export async function movePayoutGroup(
  trx: Db,
  from: PayoutState,
  to: PayoutState,
  moves: readonly GroupMove[],
  set: Move['set'] = {},
  now = Date.now(),
): Promise<void> {
  assertTransition(from, to);
  if (isFinal(to)) throw new Error(`moves to ${to} carry answers: use movePayout`);
  const strays = moves.filter((m) => m.row.state !== from);
  if (strays.length > 0) throw new Error(`payout ${strays[0]!.row.queue_id} was not read in ${from}`);
  const columns: OwnColumns[] = ['nonce', 'gas_limit', 'tx_hash'];
  const updates = moves.map((m) => ({ queueId: m.row.queue_id, version: m.row.version, own: m.own }));
  const moved = await updateEachPayoutIf(trx, from, columns, updates, {
    ...set,
    state: to,
    updated_at: now,
  });
  if (moved !== moves.length) {
    throw new Error(`${moves.length - moved} of ${moves.length} payouts changed under the worker`);
  }
  await recordAudit(
    trx,
    moves.map((m) => ({ subject: 'payout', ref: m.row.queue_id, fromState: from, toState: to, ...m.audit })),
    now,
  );
}

/**
 * Stores a new request in its first state, with its audit entry (and its answer when it was refused).
 * Resolves false, writing nothing, when the queue_id was seen before.
 */
export async function createPayout(
  trx: Db,
  row: NewPayout,
  audit: MoveAudit,
  answer?: OutboxMessage,
): Promise<boolean> {
  if (!INITIAL_STATES.includes(row.state)) throw new Error(`a payout cannot start in ${row.state}`);
  if (needsAnswer(row.kind, row.state) !== (answer !== undefined)) {
    throw new Error(
      `a ${row.kind} created ${row.state} ${needsAnswer(row.kind, row.state) ? 'needs' : 'cannot carry'} an answer`,
    );
  }
  if (!(await insertPayoutIfNew(trx, row))) return false;
  await recordAudit(
    trx,
    [{ subject: 'payout', ref: row.queue_id, toState: row.state, ...audit }],
    row.created_at,
  );
  if (answer) await enqueueOutbox(trx, [answer], row.created_at);
  return true;
}

/**
 * Records an event that keeps the state, with the columns it changes: the payout must still be in
 * `row.state`. Audited with the event's name where a move has its new state.
 */
export async function recordPayoutEvent(
  trx: Db,
  row: Pick<PayoutRow, 'queue_id' | 'state' | 'version'>,
  event: PayoutEvent,
  set: Omit<Updateable<PayoutTable>, 'state' | 'queue_id' | 'updated_at'>,
  audit: MoveAudit,
  now = Date.now(),
): Promise<boolean> {
  if (!(PAYOUT_EVENTS[event] as readonly PayoutState[]).includes(row.state)) {
    throw new Error(`a payout in ${row.state} cannot be ${event}`);
  }
  if (!(await updatePayoutIf(trx, row.queue_id, row, { ...set, updated_at: now }))) return false;
  await recordAudit(
    trx,
    [{ subject: 'payout', ref: row.queue_id, fromState: row.state, toState: event, ...audit }],
    now,
  );
  return true;
}
