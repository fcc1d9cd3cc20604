import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJsonLossless } from '../src/protocol/json.js';
import { verifySignature } from '../src/protocol/sign.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'm2p-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, config: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
  return path;
}

const queue = (name: string) => ({ queue: name, exchange: 'pay.exchange', routing: [`${name}.key`] });
const validConfig = {
  rmq_config: {
    sub_addr: 'amqp://guest:guest@127.0.0.1:5672',
    pay: queue('cli.pay'),
    topup: queue('cli.topup'),
    withdraw: queue('cli.withdraw'),
    pay_resp: queue('cli.pay.resp'),
    topup_resp: queue('cli.topup.resp'),
    withdraw_resp: queue('cli.withdraw.resp'),
  },
  eth_config: {
    rpcUrl: 'http://127.0.0.1:8545',
    wsUrl: 'ws://127.0.0.1:8546',
    confirmHeight: 20,
    dbConfig: { driver: 'sqlite', file: join(dir, 'db.sqlite') },
  },
};

describe('m2pool-payment start: configuration errors', () => {
  it('reports every problem on its own line, naming field, found and expected, and exits non-zero', async () => {
    const bad = structuredClone(validConfig) as Record<string, Record<string, unknown>>;
    bad.rmq_config!.sub_addr = 'http://localhost:5672';
    bad.eth_config!.confirmHeight = 'abc';
    delete bad.eth_config!.rpcUrl;
    const path = writeConfig('bad.json', bad);
    const result = await runCli(['start', '--config', path, '--key', 'secret']);
    expect(result.code).toBe(2);
    const lines = result.stderr.split('\n');
    expect(
      lines.some((l) => /rmq_config\.sub_addr: found "http:\/\/localhost:5672", expected .*amqp/.test(l)),
    ).toBe(true);
    expect(
      lines.some((l) => /eth_config\.confirmHeight: found "abc", expected a positive integer/.test(l)),
    ).toBe(true);
    expect(lines.some((l) => /eth_config\.rpcUrl: found nothing, expected/.test(l))).toBe(true);
  });

  it('reports a file that is not JSON and a file that does not exist', async () => {
    const notJson = await runCli([
      'start',
      '--config',
      writeConfig('broken.json', '{"rmq_config": '),
      '--key',
      'k',
    ]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/broken\.json: not valid JSON/);
    const missing = await runCli(['start', '--config', join(dir, 'nope.json'), '--key', 'k']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json: not found/);
  });

  it('refuses to start without a signing secret', async () => {
    const path = writeConfig('good.json', validConfig);
    const result = await runCli(['start', '--config', path], { env: { PAYMENT_SIGN_KEY: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no signing secret/);
  });
});

describe('m2pool-payment sign', () => {
  it('fills in `sign` (v2 -key= form too), keeping numbers as written', async () => {
    const input = '{"queue_id":"w1","amount":100.50,"timestamp":1758610297,"chain":"ETH"}';
    for (const keyArgs of [['--key', 's3cret'], ['-key=s3cret']]) {
      const result = await runCli(['sign', ...keyArgs], { stdin: input });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('"amount":100.50');
      const signed = parseJsonLossless(result.stdout.trim()) as Record<string, unknown>;
      expect(verifySignature(signed, 's3cret')).toBe(true);
      expect(verifySignature(signed, 'other')).toBe(false);
    }
  });

  it('signs the PROTOCOL example as documented', async () => {
    const result = await runCli(['sign', '--key', 'k'], {
      stdin: '{"address":"0xab","chain":"ETH","symbol":"USDT","timestamp":1758610297}',
    });
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', 'k')
      .update('address=0xab&chain=ETH&symbol=USDT&timestamp=1758610297')
      .digest('hex');
    expect(JSON.parse(result.stdout).sign).toBe(expected);
  });

  it('says what is wrong with input that is not JSON', async () => {
    const result = await runCli(['sign', '--key', 'k'], { stdin: 'nope' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not valid JSON/);
  });
});

describe('m2pool-payment start: master key', () => {
  it('refuses to start without PAYMENT_MASTER_KEY, or with one that does not open the stored keys', async () => {
    const config = structuredClone(validConfig) as { eth_config: { dbConfig: Record<string, unknown> } };
    config.eth_config.dbConfig = { driver: 'sqlite', file: join(dir, 'vault.sqlite') };
    const path = writeConfig('vault.json', config);
    const missing = await runCli(['start', '--config', path, '--key', 'k'], {
      env: { PAYMENT_MASTER_KEY: '' },
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/PAYMENT_MASTER_KEY is not set/);

    const right = 'c3'.repeat(32);
    const imported = await runCli(['wallet', 'import', '--config', path], {
      stdin: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
      env: { PAYMENT_MASTER_KEY: right },
    });
    expect(imported.code).toBe(0);
    const wrong = await runCli(['start', '--config', path, '--key', 'k'], {
      env: { PAYMENT_MASTER_KEY: 'd4'.repeat(32) },
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/PAYMENT_MASTER_KEY does not decrypt/);
    expect(wrong.stdout + wrong.stderr).not.toContain('d4d4d4');
  });
});
