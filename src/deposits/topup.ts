import type { Kysely } from 'kysely';
import type { HandlerOutcome, IncomingMessage } from '../amqp/consumer.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../internal/logger.js';
import { enqueueOutbox } from '../outbox/enqueue.js';
import { validateTopup, validationContextFor } from '../protocol/messages.js';
import { topupRefusalResponse } from '../protocol/responses.js';
import { insertIgnore } from '../store/insert-ignore.js';
import type { Database } from '../store/schema.js';

export interface CreateTopupHandlerOptions {
  logger: Logger;
  db: Kysely<Database>;
  config: Config;
  signKey: string;
  afterCommit?: () => void;
}

/**
 * A topup request: from then on the address is watched (across restarts) for transfers of the token.
 * Registering twice is harmless. A request that cannot be carried out is answered `status 0`; one that
 * cannot be trusted or answered goes to the dead-letter queue.
 */
export function createTopupHandler(options: CreateTopupHandlerOptions) {
  const { db, config, signKey } = options;
  const logger = options.logger.child({ component: 'topup' });

  return async (msg: IncomingMessage): Promise<HandlerOutcome> => {
    const result = validateTopup(msg.body, validationContextFor(config, signKey));
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
      options.afterCommit?.();
      return 'ack';
    }
    const { request } = result;
    const added = await insertIgnore(db, 'watched_addresses', {
      chain: config.chain.name,
      symbol: request.token.symbol,
      address: request.addressLc,
      created_at: Date.now(),
    });
    logger.info(
      { address: request.addressLc, symbol: request.token.symbol, new: added > 0 },
      added > 0 ? 'address watched' : 'address was already watched',
    );
    return 'ack';
  };
}
