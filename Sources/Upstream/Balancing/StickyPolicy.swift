import HTTPTypes

/// A cluster's sticky sessions, built once at load and read by every loop: the keyed codec, each
/// endpoint's opaque id, and (header mode) the consistent-hash table the key is looked up in.
///
/// The app-cookie mode needs no table shared by loops or instances: the endpoint's id travels in the
/// application's own cookie (`<id>~<original value>`, set when the application sets its cookie, stripped
/// before the request goes upstream), so any instance with the same key reads it back.
public final class StickyPolicy: Sendable {
    public let settings: StickySettings
    public let codec: StickyCookieCodec
    /// Opaque id per endpoint index.
    public let endpointIDs: [UInt64]
    /// App-cookie mode: each endpoint's value prefix (`<11 base64url chars>~`); empty otherwise.
    private let appPrefixes: [String]
    private let indexByID: [UInt64: Int]
    /// Header mode: the table a key's hash is looked up in (the cluster's own, or a ring for this).
    public let table: ConsistentHashTable?
    /// Header mode: the header, parsed once.
    public let headerName: HTTPField.Name?
    /// The cookie (cookie and app-cookie modes) whose value names the endpoint.
    public let cookieName: String?
    /// Cookie mode: `; Max-Age=...; Path=...` after the value.
    public let cookieAttributes: String
    public let ttlSeconds: UInt32

    public var isStrict: Bool { settings.onUnavailable == .strict }

    public init(settings: StickySettings, clusterName: String, endpoints: [Endpoint], key: [UInt8], table: ConsistentHashTable?) {
        self.settings = settings
        let codec = StickyCookieCodec(key: key)
        self.codec = codec
        let ids = endpoints.map { codec.endpointID(cluster: clusterName, address: $0.label) }
        self.endpointIDs = ids
        // Only app-cookie mode writes prefixes; built once here rather than per response.
        if case .appCookie = settings.mode {
            self.appPrefixes = ids.map { id in Base64URL.encode((0..<8).map { UInt8(truncatingIfNeeded: id >> (56 - 8 * UInt64($0))) }) + "~" }
        } else {
            self.appPrefixes = []
        }
        // Two addresses with the same 64-bit id would be a 2^-64 accident: the first keeps it.
        self.indexByID = Dictionary(ids.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.table = table
        switch settings.mode {
        case .cookie(let cookie):
            headerName = nil
            cookieName = cookie.name
            cookieAttributes = cookie.attributes
            ttlSeconds = UInt32(clamping: cookie.ttlSeconds ?? 0)
        case .header(let name):
            headerName = HTTPField.Name(name)
            cookieName = nil
            cookieAttributes = ""
            ttlSeconds = 0
        case .appCookie(let name, let path):
            headerName = nil
            cookieName = name
            cookieAttributes = "; Path=\(path)"
            ttlSeconds = 0
        }
    }

    public func endpointIndex(id: UInt64) -> Int? { indexByID[id] }

    /// Cookie mode: the endpoint a cookie value names, when it is this key's, unaltered and unexpired.
    public func pinnedEndpoint<Bytes: Collection>(cookieValue: Bytes, now: UInt32) -> Int? where Bytes.Element == UInt8 {
        codec.decode(cookieValue, now: now).flatMap { indexByID[$0] }
    }

    /// Cookie mode: the full `Set-Cookie` value naming `endpoint`.
    public func setCookieValue(endpoint: Int, now: UInt32) -> String {
        let expiry = ttlSeconds == 0 ? 0 : now &+ ttlSeconds
        return "\(cookieName!)=\(codec.encode(id: endpointIDs[endpoint], expiry: expiry))\(cookieAttributes)"
    }

    /// App-cookie mode: the prefix naming `endpoint` (`<11 base64url chars>~`).
    public func appPrefix(endpoint: Int) -> String { appPrefixes[endpoint] }

    /// App-cookie mode: the endpoint a prefixed value names and the length of the prefix to strip, or
    /// nil when the value carries no prefix of a known endpoint (then it goes up untouched).
    public func appPinnedEndpoint<Bytes: Collection>(value: Bytes) -> Int? where Bytes.Element == UInt8 {
        let length = StickyCookieCodec.encodedIDLength
        guard value.count > length, value[value.index(value.startIndex, offsetBy: length)] == UInt8(ascii: "~") else { return nil }
        let id = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8) { bytes -> UInt64? in
            guard Base64URL.decode(value.prefix(length), into: bytes) == 8 else { return nil }
            return bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
        return id.flatMap { indexByID[$0] }
    }
}
