const KEY_BYTES = 32;

/**
 * 64 hex characters to 32 fresh bytes, or undefined. Decodes by hand: Buffer.from(hex) may land in
 * node's shared pool, and library helpers put the value in their error messages. Used for the master
 * key and for private keys alike.
 */
export function decodeHex32(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) return undefined;
  const bytes = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) bytes[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}
