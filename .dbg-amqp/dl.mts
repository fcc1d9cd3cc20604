import { createBroker } from '../src/amqp/connection.js';
import { createLogger } from '../src/internal/logger.js';
import { createBusinessClient, createTestQueues } from '../test/helpers/rabbit.js';

const logger = createLogger({ level: 'debug', pretty: false });
const queues = createTestQueues();
const broker = createBroker({ logger }, { rmq: queues });
console.log(await broker.waitReady(5000));
const biz = await createBusinessClient();
broker.createConsumer(
  queues.withdraw,
  async (m) => {
    console.log('handler', m.body);
    return { deadLetter: 'x' };
  },
  { onDeadLetter: (q, r) => console.log('DL', q, r) },
);
await biz.publishRequest(queues.withdraw, '{"a":1', { headers: { 'x-custom': 'v', n: 7 }, messageId: 'm-2' });
await new Promise((r) => setTimeout(r, 3000));
console.log(await biz.readDlq(queues.withdraw.queue));
await biz.close();
await broker.close();
await queues.cleanup();
