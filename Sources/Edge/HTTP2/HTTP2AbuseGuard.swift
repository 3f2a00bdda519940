import GatewayCore
import NIOCore

/// Counts what a client does that costs the gateway work but serves no request (resets, control
/// frames, empty DATA, CONTINUATION chains, header bombs) and names the first limit it crosses.
/// The connection is then closed with GOAWAY; other connections are not affected.
struct HTTP2AbuseGuard {
    enum Violation: Equatable, CustomStringConvertible {
        case rapidReset
        case controlFrameFlood
        case emptyDataFlood
        case continuationFlood
        case headerBomb

        var description: String {
            switch self {
            case .rapidReset: "too many stream resets (rapid reset)"
            case .controlFrameFlood: "too many SETTINGS/PING/PRIORITY/WINDOW_UPDATE frames"
            case .emptyDataFlood: "too many empty DATA frames"
            case .continuationFlood: "too many CONTINUATION frames"
            case .headerBomb: "decoded header list far over the limit (HPACK bomb)"
            }
        }
    }

    private var resets: TokenBucket
    private var controlFrames: TokenBucket
    private var emptyData: TokenBucket
    private let maxContinuations: Int
    private var continuationsInBlock = 0
    private(set) var violation: Violation?

    init(_ config: HTTP2Config) {
        resets = TokenBucket(perSecond: config.maxResetsPerSecond)
        controlFrames = TokenBucket(perSecond: config.maxControlFramesPerSecond)
        emptyData = TokenBucket(perSecond: config.maxEmptyDataFramesPerSecond)
        maxContinuations = config.maxContinuationFrames
    }

    /// Called for every frame header the client sends. False once a limit is crossed.
    mutating func noteFrame(type: UInt8, length: Int, flags: UInt8) -> Bool {
        switch type {
        case FrameType.data:
            if length == 0 && flags & FrameFlag.endStream == 0 && !emptyData.take() { violation = .emptyDataFlood }
        case FrameType.headers:
            continuationsInBlock = 0
        case FrameType.continuation:
            continuationsInBlock += 1
            if continuationsInBlock > maxContinuations { violation = .continuationFlood }
        case FrameType.rstStream:
            if !resets.take() { violation = .rapidReset }
        case FrameType.settings, FrameType.ping, FrameType.priority, FrameType.windowUpdate:
            // SETTINGS and PING ACKs answer the gateway's own frames; they are not the client's to flood with.
            if flags & FrameFlag.ack == 0 && !controlFrames.take() { violation = .controlFrameFlood }
        default:
            break
        }
        return violation == nil
    }

    /// A stream the gateway had to reset because the client broke the protocol counts like a reset.
    mutating func noteStreamError() -> Bool {
        if !resets.take() { violation = .rapidReset }
        return violation == nil
    }

    mutating func noteHeaderBomb() { violation = .headerBomb }

    enum FrameType {
        static let data: UInt8 = 0x0, headers: UInt8 = 0x1, priority: UInt8 = 0x2, rstStream: UInt8 = 0x3
        static let settings: UInt8 = 0x4, ping: UInt8 = 0x6, windowUpdate: UInt8 = 0x8, continuation: UInt8 = 0x9
    }

    enum FrameFlag {
        static let endStream: UInt8 = 0x1, ack: UInt8 = 0x1
    }
}

/// A token bucket holding at most one second's worth of tokens, refilled continuously.
struct TokenBucket {
    private let perSecond: Double
    private var tokens: Double
    private var last: NIODeadline

    init(perSecond: Int) {
        self.perSecond = Double(perSecond)
        self.tokens = Double(perSecond)
        self.last = .now()
    }

    mutating func take() -> Bool {
        let now = NIODeadline.now()
        let elapsed = Double((now - last).nanoseconds) / 1e9
        last = now
        tokens = min(perSecond, tokens + elapsed * perSecond)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
