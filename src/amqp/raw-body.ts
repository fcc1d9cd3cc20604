import type { AsyncMessage, Channel } from 'rabbitmq-client';
import { PaymentError } from '../internal/errors.js';

/**
 * rabbitmq-client decodes a delivered body inside the channel (Channel._onBody): `text/plain` becomes
 * a string and `application/json` goes through JSON.parse, both only when contentEncoding is unset.
 * JSON.parse loses the exact text (`100.50` becomes 100.5, big integers lose digits), and we need the
 * exact bytes twice: to check the HMAC over what was sent, and to move a rejected message to its
 * `.dlq` unchanged. So on our consumer channels we set a marker contentEncoding on each incoming
 * header frame, which makes the library leave the body as a Buffer, and take the marker off again in
 * `restoreRawMessage` before anyone sees the message. This reaches into a private method of
 * rabbitmq-client 5 (checked at setup; the consumer tests fail loudly if a new version changes it).
 */
const RAW_MARKER = 'x-m2pool-raw-body';

interface HeaderFrame {
  fields: { contentEncoding?: string };
}

interface ChannelInternals {
  _onHeader?: (frame: HeaderFrame) => void;
}

export function keepRawBodies(ch: Channel): void {
  const internals = ch as unknown as ChannelInternals;
  const onHeader = internals._onHeader;
  if (typeof onHeader !== 'function') {
    throw new PaymentError(
      'amqp_raw_body',
      'rabbitmq-client has no Channel._onHeader: cannot keep raw bodies',
    );
  }
  internals._onHeader = function (this: unknown, frame: HeaderFrame) {
    if (frame.fields.contentEncoding == null) frame.fields.contentEncoding = RAW_MARKER;
    return onHeader.call(this, frame);
  };
}

/** Takes the marker off and returns the body bytes exactly as published. */
export function restoreRawMessage(msg: AsyncMessage): Buffer {
  if (msg.contentEncoding === RAW_MARKER) delete msg.contentEncoding;
  const body: unknown = msg.body;
  if (Buffer.isBuffer(body)) return body;
  // Only reachable if the shim above stopped working: the exact bytes are gone.
  throw new PaymentError('amqp_raw_body', 'message body was decoded by rabbitmq-client; raw bytes lost');
}
