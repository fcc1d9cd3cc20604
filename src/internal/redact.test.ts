import { describe, expect, it } from 'vitest';
import { errorMessage, PaymentError, walkCauses } from './errors.js';
import { serializeError } from './logger.js';
import { redactUrls } from './redact.js';

describe('redactUrls', () => {
  it('keeps the scheme and host of a URL and hides its path, query and credentials', () => {
    expect(redactUrls('URL: https://mainnet.infura.io/v3/0123456789abcdef failed')).toBe(
      'URL: https://mainnet.infura.io/[redacted] failed',
    );
    expect(redactUrls('wss://user:secret@node.example:8546')).toBe('wss://node.example:8546/[redacted]');
    expect(redactUrls('http://127.0.0.1:8545')).toBe('http://127.0.0.1:8545');
    expect(redactUrls('http://x.example/?apikey=k')).toBe('http://x.example/[redacted]');
  });
});

describe('errors', () => {
  const rpc = new Error('HTTP request failed.\nURL: https://eth.example/v2/SECRETKEY\nRequest body: {}');
  const wrapped = new PaymentError('rpc_error', 'eth_getLogs failed', { cause: rpc, retryable: true });

  it('walks the cause chain', () => {
    expect(walkCauses(wrapped)).toBe(rpc);
    expect(wrapped.walk((e) => e === rpc)).toBe(rpc);
    expect(wrapped.walk((e) => e === 'none')).toBeUndefined();
  });

  it('logs an error with its causes and never with an RPC URL', () => {
    const logged = JSON.stringify(serializeError(wrapped));
    expect(logged).toContain('eth_getLogs failed');
    expect(logged).toContain('HTTP request failed.');
    expect(logged).not.toContain('SECRETKEY');
    expect(errorMessage(new Error('https://eth.example/v2/SECRETKEY down'))).not.toContain('SECRETKEY');
  });
});
