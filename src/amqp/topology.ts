import type { Channel } from 'rabbitmq-client';
import type { Config, QueueConfig } from '../config/types.js';

/** Every queue, exchange and binding the service relies on (PROTOCOL.md §1, §5). */
export interface Topology {
  /** Durable queues: the six configured ones and the three `.dlq` queues. */
  queues: string[];
  /** Direct, durable exchanges. */
  exchanges: string[];
  bindings: { queue: string; exchange: string; routingKey: string }[];
}

/** Where a rejected request of `queue` is moved to (PROTOCOL.md §5 "Requests that are not answered"). */
export function dlqName(queue: string): string {
  return `${queue}.dlq`;
}

/** The three request queues, and the address queue when configured (its `.dlq` is declared with it). */
export function requestQueues(rmq: Config['rmq']): QueueConfig[] {
  return [rmq.topup, rmq.withdraw, rmq.pay, ...(rmq.address ? [rmq.address] : [])];
}

export function responseQueues(rmq: Config['rmq']): QueueConfig[] {
  return [rmq.topupResp, rmq.withdrawResp, rmq.payResp, ...(rmq.addressResp ? [rmq.addressResp] : [])];
}

export function describeTopology(rmq: Config['rmq']): Topology {
  const all = [...requestQueues(rmq), ...responseQueues(rmq)];
  const queues = unique([...all.map((q) => q.queue), ...requestQueues(rmq).map((q) => dlqName(q.queue))]);
  // Several queues usually share one exchange (v2 uses "pay.exchange" for all six).
  const exchanges = unique(all.map((q) => q.exchange));
  const bindings = all.flatMap((q) =>
    q.routing.map((routingKey) => ({ queue: q.queue, exchange: q.exchange, routingKey })),
  );
  return { queues, exchanges, bindings };
}

/** Idempotent: declaring what exists with the same flags is a no-op for the broker. */
export async function declareTopology(ch: Channel, topology: Topology): Promise<void> {
  for (const exchange of topology.exchanges)
    await ch.exchangeDeclare({ exchange, type: 'direct', durable: true });
  for (const queue of topology.queues) await ch.queueDeclare({ queue, durable: true });
  for (const binding of topology.bindings) await ch.queueBind(binding);
}

/** One queue's own part of the topology, declared by its consumer before it consumes. */
export function queueTopology(queue: QueueConfig, withDlq: boolean): Topology {
  return {
    queues: withDlq ? [queue.queue, dlqName(queue.queue)] : [queue.queue],
    exchanges: [queue.exchange],
    bindings: queue.routing.map((routingKey) => ({
      queue: queue.queue,
      exchange: queue.exchange,
      routingKey,
    })),
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
