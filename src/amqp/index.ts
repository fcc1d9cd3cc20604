export { type Broker, type BrokerOptions, type Consumer, createBroker } from './connection.js';
export {
  type ConsumerOptions,
  type HandlerOutcome,
  type IncomingMessage,
  type MessageHandler,
  REJECT_REASON_HEADER,
} from './consumer.js';
export type { PublishOptions } from './publisher.js';
export { describeTopology, dlqName, requestQueues, responseQueues, type Topology } from './topology.js';
