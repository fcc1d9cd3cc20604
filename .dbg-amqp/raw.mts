import { Connection } from 'rabbitmq-client';

const c = new Connection('amqp://guest:guest@127.0.0.1:5672');
c.on('error', (e) => console.log('conn error', e));
const pub = c.createPublisher({ confirm: true, queues: [{ queue: 'dbg.q', durable: true }] });
for (const env of [
  { exchange: '', routingKey: 'dbg.q', durable: true, messageId: 'm-2', timestamp: undefined },
  { exchange: '', routingKey: 'dbg.q', durable: true, messageId: 'm-2' },
  { exchange: '', routingKey: 'dbg.q', durable: true, timestamp: undefined },
]) {
  const t = setTimeout(() => console.log('HANG', env), 2000);
  await pub.send(env as any, Buffer.from('x')).then(
    () => console.log('ok', env),
    (e) => console.log('err', e),
  );
  clearTimeout(t);
}
await c.queueDelete('dbg.q');
await pub.close();
await c.close();
