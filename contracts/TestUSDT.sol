// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title TestUSDT
/// @notice A test token that behaves like mainnet USDT (TetherToken) where the payment service cares:
/// 6 decimals by default (the deployer chooses: BSC's USDT has 18), `transfer`/`transferFrom` return nothing (a caller decoding a bool breaks, as on
/// mainnet), `approve` refuses to change one non-zero allowance into another (mainnet USDT's rule against
/// the approve race: set it to 0 first), the owner can pause the token and blacklist senders. Like USDC,
/// the owner can also make the blacklist refuse recipients (and spenders): `setBlacklistRecipients(true)`;
/// off by default, as on USDT. `multiTransfer` lets a test put several Transfer logs in one transaction.
contract TestUSDT {
    string public name = "Tether USD";
    string public symbol = "USDT";
    uint8 public decimals;
    uint256 public totalSupply;
    address public owner;
    bool public paused;
    /// @notice USDC's rule when true: a blacklisted recipient or spender is refused too, not only a sender.
    /// Packed in the slot of `owner` and `paused`, so the layout of the earlier slots is unchanged.
    bool public blacklistsRecipients;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlackListed;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Issue(uint256 amount);
    event Pause();
    event Unpause();
    event AddedBlackList(address indexed user);
    event RemovedBlackList(address indexed user);
    event BlacklistRecipients(bool on);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    modifier onlyOwner() {
        require(msg.sender == owner, "TestUSDT: caller is not the owner");
        _;
    }

    modifier whenNotPaused() {
        require(!paused, "TestUSDT: token is paused");
        _;
    }

    constructor(uint8 decimals_) {
        owner = msg.sender;
        decimals = decimals_;
    }

    // Mainnet USDT returns no value here; keep it that way so the service is tested against it.
    function transfer(address to, uint256 value) external whenNotPaused {
        require(!isBlackListed[msg.sender], "TestUSDT: sender is blacklisted");
        _transfer(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external whenNotPaused {
        require(!isBlackListed[from], "TestUSDT: sender is blacklisted");
        require(!(blacklistsRecipients && isBlackListed[msg.sender]), "TestUSDT: spender is blacklisted");
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "TestUSDT: insufficient allowance");
        if (allowed != type(uint256).max) {
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(value == 0 || allowance[msg.sender][spender] == 0, "TestUSDT: reset the allowance to 0 first");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice Several transfers from msg.sender in one transaction, one Transfer log each.
    function multiTransfer(address[] calldata to, uint256[] calldata amounts) external whenNotPaused {
        require(to.length == amounts.length, "TestUSDT: length mismatch");
        require(!isBlackListed[msg.sender], "TestUSDT: sender is blacklisted");
        for (uint256 i = 0; i < to.length; i++) {
            _transfer(msg.sender, to[i], amounts[i]);
        }
    }

    function mint(address to, uint256 amount) public onlyOwner {
        require(to != address(0), "TestUSDT: mint to the zero address");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Issue(amount);
        emit Transfer(address(0), to, amount);
    }

    /// @notice TetherToken's name for minting: issues to the owner.
    function issue(uint256 amount) external onlyOwner {
        mint(owner, amount);
    }

    function pause() external onlyOwner {
        paused = true;
        emit Pause();
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpause();
    }

    function addBlackList(address user) external onlyOwner {
        isBlackListed[user] = true;
        emit AddedBlackList(user);
    }

    function removeBlackList(address user) external onlyOwner {
        isBlackListed[user] = false;
        emit RemovedBlackList(user);
    }

    /// @notice Whether the blacklist also refuses recipients and spenders (USDC) or only senders (USDT).
    function setBlacklistRecipients(bool on) external onlyOwner {
        blacklistsRecipients = on;
        emit BlacklistRecipients(on);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "TestUSDT: new owner is the zero address");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function _transfer(address from, address to, uint256 value) internal {
        require(to != address(0), "TestUSDT: transfer to the zero address");
        require(!(blacklistsRecipients && isBlackListed[to]), "TestUSDT: recipient is blacklisted");
        uint256 fromBalance = balanceOf[from];
        require(fromBalance >= value, "TestUSDT: transfer amount exceeds balance");
        unchecked {
            balanceOf[from] = fromBalance - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
