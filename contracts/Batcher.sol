// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Batcher
/// @notice Pays many token withdrawals of one wallet (its owner, the collection wallet) in one transaction.
/// @dev Each payment is `token.transferFrom(owner, to, amount)`: the funds never leave the owner until
/// they reach the recipient, so nothing ever rests here (no balance to reconcile, nothing stranded when a
/// recipient is refused), and every Transfer log reads `owner -> to` exactly as a direct payment does.
/// The owner approves this contract on the token. A payment that fails (reverts, or returns false) emits
/// TransferFailed and the batch goes on; one that succeeds emits Transferred. Tokens that return nothing
/// from transferFrom (mainnet USDT) count as success, as do those returning true.
contract Batcher {
    /// @notice The only caller, and the wallet every payment is drawn from.
    address public immutable owner;

    event Transferred(bytes32 indexed ref, address indexed to, uint256 amount);
    event TransferFailed(bytes32 indexed ref, address indexed to, uint256 amount);

    error NotOwner();
    error LengthMismatch();
    error NotAContract();
    error OutOfGas();

    constructor(address owner_) {
        require(owner_ != address(0), "Batcher: owner is the zero address");
        owner = owner_;
    }

    /// @notice Pays `amounts[i]` of `token` from the owner to `to[i]`, each tagged `refs[i]` in its event.
    /// @return failed How many payments failed (for a simulation: a receipt has the events).
    function batchTransfer(
        address token,
        address[] calldata to,
        uint256[] calldata amounts,
        bytes32[] calldata refs
    ) external returns (uint256 failed) {
        if (msg.sender != owner) revert NotOwner();
        uint256 n = to.length;
        if (amounts.length != n || refs.length != n) revert LengthMismatch();
        // A call to an address without code succeeds and returns nothing: it would read as paid.
        if (token.code.length == 0) revert NotAContract();
        for (uint256 i; i < n; ) {
            address recipient = to[i];
            uint256 amount = amounts[i];
            if (_pay(token, recipient, amount)) {
                emit Transferred(refs[i], recipient, amount);
            } else {
                emit TransferFailed(refs[i], recipient, amount);
                unchecked {
                    ++failed;
                }
            }
            unchecked {
                ++i;
            }
        }
    }

    /// @dev `token.transferFrom(owner, recipient, amount)`; true when the call succeeded and answered
    /// nothing or the word 1 (a token returning false did not pay).
    function _pay(address token, address recipient, uint256 amount) private returns (bool ok) {
        address from = owner;
        uint256 gasBefore = gasleft();
        assembly ("memory-safe") {
            // The call data in free memory; at most one word of the answer is copied, so a token cannot
            // make the batch pay for a large return.
            let p := mload(0x40)
            mstore(p, 0x23b872dd00000000000000000000000000000000000000000000000000000000)
            mstore(add(p, 0x04), from)
            mstore(add(p, 0x24), recipient)
            mstore(add(p, 0x44), amount)
            mstore(0x00, 0)
            ok := call(gas(), token, 0, p, 0x64, 0x00, 0x20)
            if ok {
                ok := or(iszero(returndatasize()), and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1)))
            }
        }
        // A call that ran out of gas leaves under 1/64 of what it was given: that is the transaction's gas
        // limit, not the recipient. Reverting makes the sender retry the whole batch with more gas instead
        // of reading a refusal that did not happen.
        if (!ok && gasleft() <= gasBefore / 63) revert OutOfGas();
    }
}
