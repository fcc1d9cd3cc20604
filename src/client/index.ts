/**
 * `m2pool-payment/client`: the SDK of a business system written in TypeScript (docs/CLIENT.md). Fields
 * are named as on the wire, so docs/PROTOCOL.md applies one to one.
 */
export { formatAmount, parseAmount } from '../money/amount.js';
export { ERROR_CODES, type ErrorCode } from '../protocol/errors.js';
export {
  createPaymentClient,
  type PaymentClient,
  type PaymentClientOptions,
  type Subscription,
} from './client.js';
export {
  type AddressAnswer,
  type AddressRequest,
  type AnswerErrorCode,
  type AnswerHandler,
  type Delivery,
  type DepositAnswer,
  isDepositAnswer,
  type PayAnswer,
  type PayRequest,
  type QueueJson,
  type RmqConfigJson,
  type SentRequest,
  type TopupAnswer,
  type TopupRefusalAnswer,
  type TopupRequest,
  type WithdrawAnswer,
  type WithdrawRequest,
} from './messages.js';
