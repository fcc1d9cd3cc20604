import { mnemonicToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { PaymentError } from '../internal/errors.js';
import { deriveHdKey, hdAddress, mnemonicToSeed, newMnemonic, normalizeMnemonic } from './hd.js';

const ABANDON = `${'abandon '.repeat(11)}about`;
/** anvil's development mnemonic: index 0 is its first account. */
const ANVIL = 'test test test test test test test test test test test junk';

describe('BIP-39 and BIP-32 of the HD deposit wallets', () => {
  it('gives the BIP-39 seed of the reference vector', () => {
    const seed = mnemonicToSeed(ABANDON);
    expect(Buffer.from(seed).toString('hex')).toBe(
      '5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4',
    );
  });

  it("derives m/44'/60'/0'/0/i as every EVM wallet does", () => {
    const abandon = mnemonicToSeed(ABANDON);
    expect(hdAddress(abandon, 0)).toBe('0x9858effd232b4033e47d90003d41ec34ecaeda94');
    const anvil = mnemonicToSeed(ANVIL);
    expect(hdAddress(anvil, 0)).toBe('0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266');
    expect(hdAddress(anvil, 1)).toBe('0x70997970c51812dc3a010c7d01b50e0d17dc79c8');
  });

  it('agrees with viem for a new mnemonic, which has 24 words and a valid checksum', () => {
    const mnemonic = newMnemonic();
    expect(mnemonic.split(' ')).toHaveLength(24);
    const seed = mnemonicToSeed(mnemonic);
    for (const index of [0, 7, 2 ** 31 - 1]) {
      expect(hdAddress(seed, index)).toBe(
        mnemonicToAccount(mnemonic, { addressIndex: index }).address.toLowerCase(),
      );
    }
  });

  it('reads a mnemonic in any case and spacing, and refuses a bad one without quoting it', () => {
    expect(normalizeMnemonic(`  ${ANVIL.toUpperCase().replaceAll(' ', '\n\t')} `)).toBe(ANVIL);
    const refusal = (text: string) => {
      try {
        mnemonicToSeed(text);
      } catch (err) {
        expect(err).toBeInstanceOf(PaymentError);
        expect((err as PaymentError).code).toBe('mnemonic_invalid');
        return (err as PaymentError).message;
      }
      throw new Error('accepted');
    };
    expect(refusal('test test test')).toMatch(/found 3/);
    expect(refusal(ANVIL.replace('junk', 'zzzz'))).toMatch(/not in the English wordlist/);
    const badChecksum = refusal(ANVIL.replace('junk', 'test'));
    expect(badChecksum).toMatch(/checksum/);
    expect(badChecksum).not.toContain('test');
  });

  it('refuses an index outside the non-hardened range', () => {
    const seed = mnemonicToSeed(ANVIL);
    expect(() => deriveHdKey(seed, 2 ** 31)).toThrow(/HD index/);
    expect(() => deriveHdKey(seed, -1)).toThrow(/HD index/);
  });
});
