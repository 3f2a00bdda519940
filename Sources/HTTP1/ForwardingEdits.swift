/// The edits a proxy makes to every forwarded request, applied while the head is written.
public struct ForwardingEdits: Sendable {
    public var requestID: String
    /// The whole new `X-Forwarded-For` value (any received list plus the client address).
    public var forwardedFor: String
    public var forwardedProto: String
    /// Leave out hop-by-hop fields and `Expect` (the request carries some).
    public var stripConnectionFields: Bool
    /// The body goes chunked on this hop.
    public var chunked: Bool
    /// The client sent `TE: trailers`, the one TE value that is forwarded.
    public var teTrailers: Bool
    /// W3C `traceparent` for the next hop (replaces the received one), kept as numbers and written as
    /// hex straight into the head: no string per request.
    public var traceparent: Traceparent?
    /// gRPC: the time the gateway still gives the call, as a `grpc-timeout` value (replaces the received
    /// one), so that the upstream stops working when the gateway stops waiting.
    public var grpcTimeout: String?
    /// The protocol a WebSocket handshake asks to switch to (`websocket`): sent as `Connection: Upgrade`
    /// and `Upgrade`, which are otherwise dropped as hop-by-hop fields.
    public var upgrade: String?

    public struct Traceparent: Sendable {
        public var traceHigh: UInt64
        public var traceLow: UInt64
        public var spanID: UInt64
        public var sampled: Bool

        public init(traceHigh: UInt64, traceLow: UInt64, spanID: UInt64, sampled: Bool) {
            self.traceHigh = traceHigh
            self.traceLow = traceLow
            self.spanID = spanID
            self.sampled = sampled
        }

        /// `00-<trace id>-<span id>-<flags>` as one 55-byte string, written in place (for HTTP/2 header
        /// lists; the HTTP/1.1 serializer writes the same bytes straight into the head).
        public var headerValue: String {
            String(unsafeUninitializedCapacity: 55) { bytes in
                let digits: StaticString = "0123456789abcdef"
                var out = 0
                func put(_ byte: UInt8) { bytes[out] = byte; out += 1 }
                func hex(_ value: UInt64) { for shift in stride(from: 60, through: 0, by: -4) { put(digits.utf8Start[Int((value >> UInt64(shift)) & 0xF)]) } }
                put(UInt8(ascii: "0")); put(UInt8(ascii: "0")); put(UInt8(ascii: "-"))
                hex(traceHigh); hex(traceLow)
                put(UInt8(ascii: "-"))
                hex(spanID)
                put(UInt8(ascii: "-")); put(UInt8(ascii: "0")); put(UInt8(ascii: sampled ? "1" : "0"))
                return out
            }
        }
    }

    public init(requestID: String, forwardedFor: String, forwardedProto: String, stripConnectionFields: Bool, chunked: Bool, teTrailers: Bool) {
        self.requestID = requestID
        self.forwardedFor = forwardedFor
        self.forwardedProto = forwardedProto
        self.stripConnectionFields = stripConnectionFields
        self.chunked = chunked
        self.teTrailers = teTrailers
    }

    /// `replaces(_:)` for a field name as received (any case), plus `Host`, which the request line's
    /// writer puts first from the authority.
    @inline(__always)
    public func replaces(rawName name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 4: return HTTP1FieldNames.same(name, "host")
        case 11: return traceparent != nil && HTTP1FieldNames.same(name, "traceparent")
        case 12: return HTTP1FieldNames.same(name, "x-request-id") || (grpcTimeout != nil && HTTP1FieldNames.same(name, "grpc-timeout"))
        case 15: return HTTP1FieldNames.same(name, "x-forwarded-for")
        case 17: return HTTP1FieldNames.same(name, "x-forwarded-proto") || HTTP1FieldNames.same(name, "transfer-encoding")
        default:
            guard stripConnectionFields else { return false }
            switch HTTP1FieldNames.classify(name) {
            case .connection, .otherHopByHop, .expect: return true
            default: return false
            }
        }
    }

    /// Whether a received field is left out, because the edits replace or drop it.
    @inline(__always)
    public func replaces(_ canonicalName: String) -> Bool {
        switch canonicalName.utf8.count {
        case 11: return traceparent != nil && canonicalName == "traceparent"
        case 12: return canonicalName == "x-request-id" || (grpcTimeout != nil && canonicalName == "grpc-timeout")
        case 15: return canonicalName == "x-forwarded-for"
        case 17: return canonicalName == "x-forwarded-proto" || canonicalName == "transfer-encoding"
        default:
            guard stripConnectionFields else { return false }
            return HopByHop.isHopByHop(canonicalName) || canonicalName == "expect"
        }
    }
}
