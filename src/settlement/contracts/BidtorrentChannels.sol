// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IERC20 {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
}

/// @title Payment channels for bidtorrent's bandwidth market
/// @notice One unidirectional channel per payer, payee and torrent. The payer deposits the chain's
/// native coin (BTT on BTTC) or a token (BTT as TRC-20 on TRON, any ERC-20); the payee claims with
/// the payer's latest voucher, a TIP-712/EIP-712 signature over a cumulative amount, and each claim
/// pays only the increase since the last one. After its expiry the payer may ask for a refund, which
/// it can take once a challenge window has passed: the payee's chance to claim first.
/// @dev Vouchers are cumulative over the channel's whole life: a channel is never deleted, so a
/// voucher claimed once can never pay again, even after a refund and a new deposit.
contract BidtorrentChannels {
    struct Channel {
        address payer;
        address payee;
        /// address(0): the native coin.
        address token;
        /// Refunds may be requested from this time (seconds since the epoch).
        uint64 expiry;
        /// 0, or when a requested refund may be taken: the end of the challenge window.
        uint64 refundAt;
        /// The highest voucher nonce claimed.
        uint64 nonce;
        /// Cumulative amounts: everything deposited, claimed by the payee, refunded to the payer.
        uint256 deposited;
        uint256 claimed;
        uint256 refunded;
    }

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint64 nonce,uint256 amount)");
    bytes32 private constant NAME_HASH = keccak256("bidtorrent");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// Half the order of secp256k1: signatures with a higher s are malleable copies and are refused.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// How long the payee has to claim after the payer asks for a refund, in seconds.
    uint64 public immutable challengePeriod;
    mapping(bytes32 => Channel) public channels;
    uint256 private locked = 1;

    event Opened(bytes32 indexed channelId, address indexed payer, address indexed payee, bytes20 infoHash, address token, uint256 amount, uint64 expiry);
    event ToppedUp(bytes32 indexed channelId, uint256 amount, uint256 deposited, uint64 expiry);
    event Claimed(bytes32 indexed channelId, uint64 nonce, uint256 cumulative, uint256 paid);
    event RefundRequested(bytes32 indexed channelId, uint64 refundAt);
    event Refunded(bytes32 indexed channelId, uint256 amount);
    event Closed(bytes32 indexed channelId, uint256 claimed, uint256 refunded);

    error ChannelExists();
    error UnknownChannel();
    error NotPayer();
    error NotPayee();
    error BadDeposit();
    error BadExpiry();
    error StaleNonce(uint64 latest);
    error NothingToClaim(uint256 claimed);
    error AboveDeposit(uint256 funds);
    error BadSignature();
    error NotExpired(uint64 expiry);
    error RefundNotRequested();
    error ChallengeWindowOpen(uint64 refundAt);
    error TransferFailed();
    error Reentrant();

    modifier nonReentrant() {
        if (locked != 1) revert Reentrant();
        locked = 2;
        _;
        locked = 1;
    }

    constructor(uint64 challengePeriodSeconds) {
        challengePeriod = challengePeriodSeconds;
    }

    /// @notice The id of the channel from `payer` to `payee` for one torrent (its 20-byte v1 info hash).
    function channelIdOf(address payer, address payee, bytes20 infoHash) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(payer, payee, infoHash));
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice What the payee can still be paid: deposits less claims and refunds.
    function available(bytes32 channelId) public view returns (uint256) {
        Channel storage ch = channels[channelId];
        return ch.deposited - ch.claimed - ch.refunded;
    }

    /// @notice Opens the caller's channel to `payee` for a torrent with a first deposit. For a token,
    /// approve this contract for `amount` first; for the native coin, send `amount` as the value.
    function open(address payee, bytes20 infoHash, address token, uint256 amount, uint64 expiry) external payable nonReentrant returns (bytes32 channelId) {
        channelId = channelIdOf(msg.sender, payee, infoHash);
        Channel storage ch = channels[channelId];
        if (ch.payer != address(0)) revert ChannelExists();
        if (payee == address(0) || payee == msg.sender) revert NotPayee();
        if (expiry <= block.timestamp) revert BadExpiry();
        ch.payer = msg.sender;
        ch.payee = payee;
        ch.token = token;
        ch.expiry = expiry;
        ch.deposited = amount;
        emit Opened(channelId, msg.sender, payee, infoHash, token, amount, expiry);
        pull(token, amount);
    }

    /// @notice Adds to a channel's deposit and may push its expiry later; cancels a pending refund.
    function topUp(bytes32 channelId, uint256 amount, uint64 expiry) external payable nonReentrant {
        Channel storage ch = channels[channelId];
        if (ch.payer == address(0)) revert UnknownChannel();
        if (msg.sender != ch.payer) revert NotPayer();
        if (expiry < ch.expiry) revert BadExpiry();
        ch.expiry = expiry;
        ch.refundAt = 0;
        ch.deposited += amount;
        emit ToppedUp(channelId, amount, ch.deposited, expiry);
        pull(ch.token, amount);
    }

    /// @notice Pays the payee what `amount` (cumulative, signed by the payer) adds to earlier claims.
    /// Anyone may submit it; the money only ever goes to the payee.
    function claim(bytes32 channelId, uint64 nonce, uint256 amount, bytes calldata signature) external nonReentrant {
        payClaim(channelId, nonce, amount, signature);
    }

    /// @notice The payee ends the channel: claims with the final voucher (if it adds anything) and
    /// returns the rest of the deposit to the payer at once.
    function close(bytes32 channelId, uint64 nonce, uint256 amount, bytes calldata signature) external nonReentrant {
        Channel storage ch = channels[channelId];
        if (ch.payer == address(0)) revert UnknownChannel();
        if (msg.sender != ch.payee) revert NotPayee();
        if (amount > ch.claimed) payClaim(channelId, nonce, amount, signature);
        uint256 rest = available(channelId);
        ch.refunded += rest;
        ch.refundAt = 0;
        emit Closed(channelId, ch.claimed, rest);
        push(ch.token, ch.payer, rest);
    }

    /// @notice After the expiry the payer asks for its deposit back; the payee may still claim until
    /// the challenge window has passed.
    function requestRefund(bytes32 channelId) external {
        Channel storage ch = channels[channelId];
        if (ch.payer == address(0)) revert UnknownChannel();
        if (msg.sender != ch.payer) revert NotPayer();
        if (block.timestamp < ch.expiry) revert NotExpired(ch.expiry);
        ch.refundAt = uint64(block.timestamp) + challengePeriod;
        emit RefundRequested(channelId, ch.refundAt);
    }

    /// @notice Returns what the payee has not claimed to the payer, once the challenge window has passed.
    function refund(bytes32 channelId) external nonReentrant {
        Channel storage ch = channels[channelId];
        if (ch.payer == address(0)) revert UnknownChannel();
        if (msg.sender != ch.payer) revert NotPayer();
        if (ch.refundAt == 0) revert RefundNotRequested();
        if (block.timestamp < ch.refundAt) revert ChallengeWindowOpen(ch.refundAt);
        uint256 rest = available(channelId);
        ch.refunded += rest;
        ch.refundAt = 0;
        emit Refunded(channelId, rest);
        push(ch.token, ch.payer, rest);
    }

    /// @notice The digest a voucher's signature covers (TIP-712 / EIP-712 typed data).
    function voucherDigest(bytes32 channelId, uint64 nonce, uint256 amount) public view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, nonce, amount));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function payClaim(bytes32 channelId, uint64 nonce, uint256 amount, bytes calldata signature) private {
        Channel storage ch = channels[channelId];
        if (ch.payer == address(0)) revert UnknownChannel();
        if (nonce <= ch.nonce) revert StaleNonce(ch.nonce);
        if (amount <= ch.claimed) revert NothingToClaim(ch.claimed);
        if (amount > ch.deposited - ch.refunded) revert AboveDeposit(ch.deposited - ch.refunded);
        if (recover(voucherDigest(channelId, nonce, amount), signature) != ch.payer) revert BadSignature();
        uint256 paid = amount - ch.claimed;
        ch.nonce = nonce;
        ch.claimed = amount;
        emit Claimed(channelId, nonce, amount, paid);
        push(ch.token, ch.payee, paid);
    }

    function recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) return address(0);
        return ecrecover(digest, v, r, s);
    }

    function pull(address token, uint256 amount) private {
        if (amount == 0) revert BadDeposit();
        if (token == address(0)) {
            if (msg.value != amount) revert BadDeposit();
            return;
        }
        if (msg.value != 0) revert BadDeposit();
        callToken(token, abi.encodeCall(IERC20.transferFrom, (msg.sender, address(this), amount)));
    }

    function push(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert TransferFailed();
            return;
        }
        callToken(token, abi.encodeCall(IERC20.transfer, (to, amount)));
    }

    /// Tokens that return nothing from transfer (USDT on TRON among them) count as success.
    function callToken(address token, bytes memory data) private {
        (bool ok, bytes memory result) = token.call(data);
        if (!ok || (result.length > 0 && !abi.decode(result, (bool)))) revert TransferFailed();
    }
}
