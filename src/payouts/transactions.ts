import type { Hex, TransactionSerializable } from 'viem';
import { isNativeAddress } from '../config/chains.js';
import type { PayoutRow, PayoutTxRow } from '../store/schema.js';
import { transferCalldata } from './chain.js';
import type { Fees } from './fees.js';

export type TransactionBuilders = ReturnType<typeof createTransactionBuilders>;

/**
 * The transfer of a payout as a transaction to sign (a token's `transfer`, or a plain value transfer of
 * the native coin), and its fee fields as stored and audited.
 */
export function createTransactionBuilders(chainId: number) {
  function txFields(
    fee: Fees,
  ): Pick<PayoutTxRow, 'max_fee_per_gas' | 'max_priority_fee_per_gas' | 'gas_price'> {
    return fee.type === 'legacy'
      ? { max_fee_per_gas: null, max_priority_fee_per_gas: null, gas_price: fee.gasPrice.toString() }
      : {
          max_fee_per_gas: fee.maxFeePerGas.toString(),
          max_priority_fee_per_gas: fee.maxPriorityFeePerGas.toString(),
          gas_price: null,
        };
  }

  /** The fee fields of a signed transaction, for its audit entry. */
  function feeDetail(fee: Fees) {
    return fee.type === 'legacy'
      ? { gasPrice: fee.gasPrice.toString() }
      : {
          maxFeePerGas: fee.maxFeePerGas.toString(),
          maxPriorityFeePerGas: fee.maxPriorityFeePerGas.toString(),
        };
  }

  function serializable(
    row: Pick<PayoutRow, 'token_address' | 'to_address' | 'amount_raw' | 'call_data'>,
    nonce: number,
    gas: bigint,
    fee: Fees,
  ): TransactionSerializable {
    const base = { chainId, nonce, gas, ...transferCall(row) };
    return fee.type === 'legacy'
      ? { ...base, type: 'legacy', gasPrice: fee.gasPrice }
      : {
          ...base,
          type: 'eip1559',
          maxFeePerGas: fee.maxFeePerGas,
          maxPriorityFeePerGas: fee.maxPriorityFeePerGas,
        };
  }

  return { txFields, feeDetail, serializable };
}

/**
 * What a payout's transaction calls: the token's `transfer(to, amount)` with no value, or for the native
 * coin the recipient itself with the amount as value and no data; a contract call of the service's own
 * (a batch, an approval) its stored calldata to `to_address`. Also what the gas is estimated for.
 */
export function transferCall(
  row: Pick<PayoutRow, 'token_address' | 'to_address' | 'amount_raw'> & Partial<Pick<PayoutRow, 'call_data'>>,
): {
  to: Hex;
  value: bigint;
  data?: Hex;
} {
  if (row.call_data) return { to: row.to_address as Hex, value: 0n, data: row.call_data as Hex };
  const amount = BigInt(row.amount_raw);
  if (isNativeAddress(row.token_address)) return { to: row.to_address as Hex, value: amount };
  return {
    to: row.token_address as Hex,
    value: 0n,
    data: transferCalldata(row.to_address as Hex, amount),
  };
}
