import type { ChainConfig } from '../config/types.js';
import type { Devnet } from './devnet.js';
import { devnetAccount } from './devnet.js';

/** One chain's lines: its node, chain id, confirmations, native coin and tokens. */
function chainLines(chain: ChainConfig): string[] {
  return [
    `chain ${chain.name.padEnd(11)}chainId ${chain.chainId}   ${chain.confirmHeight} confirmations (one block a second)   native ${chain.native.symbol} (${chain.native.decimals} decimals)`,
    `  node (anvil)   RPC ${chain.rpcUrl}   WebSocket ${chain.wsUrl}`,
    ...chain.tokens.map(
      (t) =>
        `  test ${t.symbol.padEnd(10)}${t.addressLc} (${t.decimals} decimals; dev accounts 0-5 hold 1,000,000 each)`,
    ),
  ];
}

/** What a person needs to try the devnet: chains, addresses, queues, secrets (devnet-only) and commands to run. */
export function printDevnetBanner(devnet: Devnet, http: { host: string; port: number } | undefined) {
  const { config, state } = devnet;
  const rmq = config.rmq;
  const user = devnetAccount(2).address.toLowerCase();
  const collection = config.chain.collectionAddressLc;
  const lines = [
    '',
    '=== m2pool-payment devnet is running ===',
    ...config.chains.flatMap(chainLines),
    `config           ${devnet.configPath} (the devnet as a config file: eth_config and chains)`,
    `database         SQLite ${config.db.driver === 'sqlite' ? config.db.file : ''}`,
    `RabbitMQ         ${rmq.url.replace(/\/\/[^@]*@/, '//***@')}`,
    `  requests       topup ${rmq.topup.queue} | withdraw ${rmq.withdraw.queue} | pay ${rmq.pay.queue}`,
    `  responses      topup ${rmq.topupResp.queue} | withdraw ${rmq.withdrawResp.queue} | pay ${rmq.payResp.queue}`,
    `  exchange       ${rmq.topup.exchange}, routing keys ${rmq.topup.routing[0]} (topup), ...`,
    http
      ? `HTTP             http://${http.host}:${http.port}/ (status page)  /status  /metrics  /health  /ready`
      : '',
    `signing secret   ${state.signKey}   (devnet only, kept in ${devnet.dataDir}/devnet.json)`,
    `master key       ${state.masterKey}   (devnet only)`,
    `collection       ${collection} on every chain (its key is in the vault)`,
    '',
    'Try it, in another terminal (every dev command takes --chain ETH|BSC, default ETH):',
    `  npx m2pool-payment dev topup ${user}          # signed topup request: watch this address`,
    `  npx m2pool-payment dev transfer ${user} 12.5  # send it 12.5 USDT from dev account 0`,
    '  npx m2pool-payment dev listen                 # print the responses (status 2, then 1)',
    `  npx m2pool-payment dev withdraw ${user} 3     # withdraw 3 USDT to it from the collection wallet`,
    `  npx m2pool-payment dev pay ${user} 1.25 order-1  # a payment for a merchant order`,
    `  npx m2pool-payment dev topup ${user} --chain BSC --symbol BNB       # the same on BSC, in BNB`,
    `  npx m2pool-payment dev transfer ${user} 0.5 --chain BSC --symbol BNB`,
    'Or sign a message yourself:',
    `  echo '{"chain":"ETH","symbol":"USDT","address":"${user}","timestamp":'$(date +%s)'}' | npx m2pool-payment sign --key ${state.signKey}`,
    '',
  ];
  console.log(lines.join('\n'));
}
