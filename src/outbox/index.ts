export { enqueueOutbox, type OutboxMessage } from './enqueue.js';
export { createOutboxRelay, type OutboxRelay, type OutboxRelayDeps } from './relay.js';
