import type { Hex, TransactionSerializable } from 'viem';
import type { PayoutRow, PayoutTxRow } from '../store/schema.js';
import { transferCalldata } from './chain.js';
import type { Fees } from './fees.js';

export type TransactionBuilders = ReturnType<typeof createTransactionBuilders>;

/** The token transfer of a payout as a transaction to sign, and its fee fields as stored and audited. */
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
    row: Pick<PayoutRow, 'token_address' | 'to_address' | 'amount_raw'>,
    nonce: number,
    gas: bigint,
    fee: Fees,
  ): TransactionSerializable {
    const base = {
      chainId,
      to: row.token_address as Hex,
      data: transferCalldata(row.to_address as Hex, BigInt(row.amount_raw)),
      nonce,
      gas,
      value: 0n,
    };
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
