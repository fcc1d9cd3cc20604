import type { HandlerOutcome, IncomingMessage } from '../amqp/consumer.js';
import type { Common } from '../context/common.js';
import { validateTopup, validationContextFor } from '../protocol/messages.js';
import { topupRefusalResponse } from '../protocol/responses.js';
import { enqueueOutbox } from '../store/repos/outbox.js';
import { watchAddress } from '../store/repos/watched.js';
import type { Db } from '../store/schema.js';

export interface TopupHandlerDeps {
  db: Db;
  /** The message-signing secret. */
  signKey: string;
  /** After a commit that wrote an answer (wake the outbox relay). */
  afterCommit?: () => void;
}

/**
 * A topup request: from then on the address is watched (across restarts) for transfers of the token.
 * Registering twice is harmless. A request that cannot be carried out is answered `status 0`; one that
 * cannot be trusted or answered goes to the dead-letter queue.
 */
export function createTopupHandler(common: Common, deps: TopupHandlerDeps) {
  const { config } = common;
  const { db, signKey } = deps;
  const logger = common.logger.child({ component: 'topup' });

  return async (msg: IncomingMessage): Promise<HandlerOutcome> => {
    const result = validateTopup(msg.raw, validationContextFor(config, signKey));
    if (result.kind === 'reject') {
      logger.warn({ reason: result.reason }, 'topup request rejected to the dead-letter queue');
      return { deadLetter: result.reason };
    }
    if (result.kind === 'refuse') {
      const { request } = result;
      logger.warn(
        { address: request.address, code: result.code, reason: result.message },
        'topup request refused',
      );
      await db.transaction().execute((trx) =>
        enqueueOutbox(trx, [
          {
            topic: 'topup',
            exchange: config.rmq.topupResp.exchange,
            routingKey: config.rmq.topupResp.routing[0]!,
            body: topupRefusalResponse(
              {
                address: request.address,
                chain: request.chain,
                symbol: request.symbol,
                error: result.code,
                errorMessage: result.message,
              },
              signKey,
            ),
          },
        ]),
      );
      deps.afterCommit?.();
      return 'ack';
    }
    const { request } = result;
    const added = await watchAddress(db, {
      chain: request.chainName,
      symbol: request.token.symbol,
      address: request.addressLc,
    });
    logger.info(
      { address: request.addressLc, symbol: request.token.symbol, new: added },
      added ? 'address watched' : 'address was already watched',
    );
    return 'ack';
  };
}
