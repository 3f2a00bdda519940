import CNGHTTP2
import Foundation

/// A blocking HTTP/2 client that writes frames byte by byte, for the cases real clients refuse to
/// send (floods, CONTINUATION chains, header bombs, resets). Plaintext h2c with prior knowledge.
/// Response header blocks are decoded with nghttp2's HPACK inflater (a library, not the gateway).
final class H2RawClient: @unchecked Sendable {
    struct Frame: Sendable {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: [UInt8]
    }

    enum FrameType {
        static let data: UInt8 = 0, headers: UInt8 = 1, rstStream: UInt8 = 3, settings: UInt8 = 4
        static let ping: UInt8 = 6, goaway: UInt8 = 7, windowUpdate: UInt8 = 8, continuation: UInt8 = 9
    }
    enum Flag {
        static let endStream: UInt8 = 0x1, ack: UInt8 = 0x1, endHeaders: UInt8 = 0x4
    }

    let raw: RawClient
    private var pending: [UInt8] = []
    private var inflater: OpaquePointer?
    /// Decoded header blocks by stream (response heads and trailers, in order).
    private(set) var headerBlocks: [UInt32: [[(String, String)]]] = [:]
    private var partialBlock: (stream: UInt32, bytes: [UInt8])?

    init(port: Int, settings: [(UInt16, UInt32)] = [], timeoutSeconds: Int = 5) throws {
        raw = try RawClient(port: port, timeoutSeconds: timeoutSeconds)
        nghttp2_hd_inflate_new(&inflater)
        try raw.send(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + Self.settingsFrame(settings))
    }

    deinit { nghttp2_hd_inflate_del(inflater) }

    // MARK: - Writing

    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags,
                UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + payload
    }

    static func settingsFrame(_ settings: [(UInt16, UInt32)]) -> [UInt8] {
        var payload: [UInt8] = []
        for (id, value) in settings {
            payload += [UInt8(id >> 8), UInt8(id & 0xff), UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        }
        return frame(FrameType.settings, payload)
    }

    /// An HPACK integer with an `prefixBits`-bit prefix, first byte OR-ed with `mask`.
    static func hpackInteger(_ value: Int, prefixBits: Int, mask: UInt8) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        if value < limit { return [mask | UInt8(value)] }
        var out: [UInt8] = [mask | UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }

    /// A literal field without indexing (no Huffman): what any encoder may send.
    static func literal(_ name: String, _ value: String, indexed: Bool = false) -> [UInt8] {
        let n = Array(name.utf8), v = Array(value.utf8)
        return [indexed ? 0x40 : 0x00] + hpackInteger(n.count, prefixBits: 7, mask: 0) + n + hpackInteger(v.count, prefixBits: 7, mask: 0) + v
    }

    /// A request header block: the pseudo-headers, then `extra` fields.
    static func requestBlock(method: String = "GET", path: String = "/", authority: String = "localhost",
                             extra: [(String, String)] = []) -> [UInt8] {
        var block = literal(":method", method) + literal(":scheme", "http") + literal(":path", path) + literal(":authority", authority)
        for (name, value) in extra { block += literal(name, value) }
        return block
    }

    func send(_ bytes: [UInt8]) throws { try raw.send(bytes) }

    func sendRequest(stream: UInt32, method: String = "GET", path: String = "/", extra: [(String, String)] = [], endStream: Bool = true) throws {
        let block = Self.requestBlock(method: method, path: path, extra: extra)
        try send(Self.frame(FrameType.headers, flags: Flag.endHeaders | (endStream ? Flag.endStream : 0), stream: stream, block))
    }

    // MARK: - Reading

    /// Reads frames until `stop` says so, the peer closes, or the timeout passes. SETTINGS are ACKed.
    func readFrames(until stop: (Frame) -> Bool) -> (frames: [Frame], closed: Bool) {
        var frames: [Frame] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            while let frame = takeFrame() {
                frames.append(frame)
                if frame.type == FrameType.settings && frame.flags & Flag.ack == 0 { try? send(Self.frame(FrameType.settings, flags: Flag.ack)) }
                collectHeaders(frame)
                if stop(frame) { return (frames, false) }
            }
            let count = recv(raw.fdForTests, &buffer, buffer.count, 0)
            if count <= 0 { return (frames, count == 0 || errno == ECONNRESET) }
            pending += buffer[0..<count]
        }
    }

    /// Reads until a GOAWAY arrives; returns its error code (nil if none came).
    func readGoAway() -> UInt32? {
        let (frames, _) = readFrames { $0.type == FrameType.goaway }
        guard let goaway = frames.last(where: { $0.type == FrameType.goaway }), goaway.payload.count >= 8 else { return nil }
        return goaway.payload[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The `:status` of a stream's response, reading until it ends or is reset.
    func readResponse(stream: UInt32) -> (status: Int?, body: [UInt8], reset: UInt32?) {
        var body: [UInt8] = []
        var reset: UInt32?
        _ = readFrames { frame in
            guard frame.stream == stream else { return false }
            if frame.type == FrameType.data { body += frame.payload }
            if frame.type == FrameType.rstStream { reset = frame.payload.reduce(0) { $0 << 8 | UInt32($1) }; return true }
            return frame.flags & Flag.endStream != 0 && (frame.type == FrameType.data || frame.type == FrameType.headers)
        }
        let status = headerBlocks[stream]?.first?.first(where: { $0.0 == ":status" }).flatMap { Int($0.1) }
        return (status, body, reset)
    }

    private func takeFrame() -> Frame? {
        guard pending.count >= 9 else { return nil }
        let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
        guard pending.count >= 9 + length else { return nil }
        let stream = UInt32(pending[5] & 0x7f) << 24 | UInt32(pending[6]) << 16 | UInt32(pending[7]) << 8 | UInt32(pending[8])
        let frame = Frame(type: pending[3], flags: pending[4], stream: stream, payload: Array(pending[9..<(9 + length)]))
        pending.removeFirst(9 + length)
        return frame
    }

    private func collectHeaders(_ frame: Frame) {
        if frame.type == FrameType.headers {
            partialBlock = (frame.stream, frame.payload)
        } else if frame.type == FrameType.continuation, partialBlock != nil {
            partialBlock!.bytes += frame.payload
        } else {
            return
        }
        guard frame.flags & Flag.endHeaders != 0, let block = partialBlock else { return }
        partialBlock = nil
        headerBlocks[block.stream, default: []].append(inflate(block.bytes))
    }

    private func inflate(_ block: [UInt8]) -> [(String, String)] {
        var fields: [(String, String)] = []
        var offset = 0
        block.withUnsafeBufferPointer { bytes in
            while true {
                var nv = nghttp2_nv()
                var flags: Int32 = 0
                let used = nghttp2_hd_inflate_hd2(inflater, &nv, &flags, bytes.baseAddress! + offset, bytes.count - offset, 1)
                if used < 0 { return }
                offset += used
                if flags & Int32(NGHTTP2_HD_INFLATE_EMIT.rawValue) != 0 {
                    fields.append((String(decoding: UnsafeBufferPointer(start: nv.name, count: nv.namelen), as: UTF8.self),
                                   String(decoding: UnsafeBufferPointer(start: nv.value, count: nv.valuelen), as: UTF8.self)))
                }
                if flags & Int32(NGHTTP2_HD_INFLATE_FINAL.rawValue) != 0 {
                    nghttp2_hd_inflate_end_headers(inflater)
                    return
                }
                if used == 0 && flags & Int32(NGHTTP2_HD_INFLATE_EMIT.rawValue) == 0 { return }
            }
        }
        return fields
    }
}
