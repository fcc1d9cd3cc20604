import type { RmqConfigJson } from '../../src/client/index.js';
import type { Config } from '../../src/config/types.js';

/** The v2 `rmq_config` of a test's queues, as it would be in config.json: what the client SDK takes. */
export function rmqJson(rmq: Config['rmq']): RmqConfigJson {
  return {
    sub_addr: rmq.url,
    topup: rmq.topup,
    withdraw: rmq.withdraw,
    pay: rmq.pay,
    topup_resp: rmq.topupResp,
    withdraw_resp: rmq.withdrawResp,
    pay_resp: rmq.payResp,
    ...(rmq.address && rmq.addressResp ? { address: rmq.address, address_resp: rmq.addressResp } : {}),
  };
}
