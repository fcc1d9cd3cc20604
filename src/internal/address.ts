/** Hex addresses in any letter case: v2 senders mix checksummed and lowercase forms. */
const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/**
 * The lowercase form of a 0x-prefixed 20-byte hex address, or undefined when `value` is not one.
 * The checksum of mixed-case input is deliberately not enforced: addresses are compared and stored
 * in lowercase (PROTOCOL §5), and v2 never required checksums.
 */
export function toAddressLc(value: unknown): `0x${string}` | undefined {
  if (typeof value !== 'string' || !HEX_ADDRESS.test(value)) return undefined;
  return value.toLowerCase() as `0x${string}`;
}
