import type { HandlerOutcome, IncomingMessage } from '../amqp/consumer.js';
import type { QueueConfig } from '../config/types.js';
import type { Common } from '../context/common.js';
import { PaymentError } from '../internal/errors.js';
import { validateAddressRequest } from '../protocol/address-request.js';
import type { ErrorCode } from '../protocol/errors.js';
import { validationContextFor } from '../protocol/messages.js';
import { type AddressResponseInput, addressResponse } from '../protocol/responses.js';
import type { OutboxMessage } from '../store/repos/outbox.js';
import { enqueueOutbox } from '../store/repos/outbox.js';
import type { Db } from '../store/schema.js';
import type { Vault } from '../vault/vault.js';
import { issueAddress } from './issue.js';

export interface AddressHandlerDeps {
  db: Db;
  vault: Pick<Vault, 'hdAddressAt'>;
  /** The message-signing secret. */
  signKey: string;
  /** `rmq_config.address_resp`: where the answers go. */
  responseQueue: QueueConfig;
  /** After a commit that wrote an answer (wake the outbox relay). */
  afterCommit?: () => void;
}

/**
 * An address request (PROTOCOL §7.4): the user's deposit address (issued once per `user_ref`, watched
 * for every asset of every chain) answered through the outbox in the transaction that issues it. Every
 * request is answered, the same address each time. No HD root yet: `status 0` with `hd_root_missing`.
 * A request that cannot be trusted or answered goes to the dead-letter queue.
 */
export function createAddressHandler(common: Common, deps: AddressHandlerDeps) {
  const { config } = common;
  const { db, signKey, responseQueue } = deps;
  const logger = common.logger.child({ component: 'address' });
  const toOutbox = (input: AddressResponseInput): OutboxMessage => ({
    topic: 'address',
    exchange: responseQueue.exchange,
    routingKey: responseQueue.routing[0]!,
    body: addressResponse(input, signKey),
  });

  async function refuse(requestId: string, userRef: string, code: ErrorCode, message: string) {
    logger.warn({ requestId, userRef, code, reason: message }, 'address request refused');
    await db
      .transaction()
      .execute((trx) =>
        enqueueOutbox(trx, [toOutbox({ requestId, userRef, status: 0, error: code, errorMessage: message })]),
      );
    deps.afterCommit?.();
    return 'ack' as const;
  }

  return async (msg: IncomingMessage): Promise<HandlerOutcome> => {
    const result = validateAddressRequest(msg.raw, validationContextFor(config, signKey));
    if (result.kind === 'reject') {
      logger.warn({ reason: result.reason }, 'address request rejected to the dead-letter queue');
      return { deadLetter: result.reason };
    }
    if (result.kind === 'refuse') {
      return refuse(result.request.requestId, result.request.userRef, result.code, result.message);
    }
    const { requestId, userRef } = result.request;
    try {
      const issued = await issueAddress(db, { config, vault: deps.vault }, userRef, (a) =>
        toOutbox({ requestId, userRef, status: 1, address: a.address, index: a.index }),
      );
      logger.info(
        { requestId, userRef, address: issued.address, index: issued.index, new: issued.created },
        issued.created ? 'deposit address issued' : 'deposit address given again',
      );
      deps.afterCommit?.();
      return 'ack';
    } catch (err) {
      if (err instanceof PaymentError && err.code === 'hd_root_missing') {
        return refuse(requestId, userRef, 'hd_root_missing', err.message);
      }
      throw err;
    }
  };
}
