import { isJsonObject, parseJsonLossless, stringifyMessage } from '../protocol/json.js';
import { withSignature } from '../protocol/sign.js';

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `m2pool-payment sign`: a JSON message on stdin, printed back with `sign` filled in (numbers kept as written). */
export async function runSign(secret: string | undefined): Promise<number> {
  if (!secret) {
    console.error('error: no signing secret: pass --key SECRET or set PAYMENT_SIGN_KEY');
    return 2;
  }
  let msg: unknown;
  try {
    msg = parseJsonLossless(await readStdin());
  } catch (err) {
    console.error(
      `error: standard input is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
    return 2;
  }
  if (!isJsonObject(msg)) {
    console.error('error: standard input must be a JSON object');
    return 2;
  }
  console.log(stringifyMessage(withSignature(msg, secret)));
  return 0;
}
