import HTTP1
import HTTPTypes
import NIOCore
import Upstream

/// What a stream learnt about its sticky session (`clusters[].sticky`), read once at the first pick.
struct StickyStreamState {
    var resolved = false
    /// The endpoint the request's cookie or key names; -1 for none (no cookie, or one that is tampered,
    /// expired, signed with another key, or names an endpoint this cluster does not have).
    var pinned = -1
    /// Header mode: the key's hash.
    var hash: UInt64?
    /// App-cookie mode: the application's value as the client sent it, without our prefix.
    var appValue: String?
    /// Fallback mode already moved this request off its refused sticky endpoint once.
    var fallbackTried = false
    /// An attempt on the sticky endpoint failed: in fallback mode the request does not go back to it.
    var pinnedFailed = false
}

/// Sticky sessions: the pick honours the endpoint the request names (even at weight 0, while it is up),
/// and the response names the endpoint that answered when the client's cookie did not.
extension ProxyStream {
    func pickSticky(_ cluster: ClusterLoopState, _ policy: StickyPolicy) {
        if !sticky.resolved { resolveSticky(policy) }
        let pinned = sticky.pinned
        if pinned >= 0 {
            if retry.failedEndpoint == pinned { sticky.pinnedFailed = true }
            // Strict: a retry stays on the session's endpoint. Fallback: once it failed, the request (and
            // its later retries) go elsewhere.
            if cluster.isAvailable(pinned) && (!sticky.pinnedFailed || policy.isStrict) {
                connect(to: cluster.cluster.endpoints[pinned], fresh: false)
                return
            }
            if policy.isStrict {
                failUpstream(.stickyEndpointUnavailable)
                return
            }
        }
        let endpoint: Endpoint?
        if let hash = sticky.hash, let table = policy.table {
            // The key's next endpoint on the ring: the same on every loop and instance.
            endpoint = cluster.pickSticky(hash: hash, table: table, excluding: retry.failedEndpoint)
        } else {
            let hash = cluster.cluster.options.hashOn == nil && hashKeyOverride == nil ? nil : requestHash(cluster.cluster)
            endpoint = cluster.pickEndpoint(hash: hash, excluding: retry.failedEndpoint)
        }
        guard let endpoint else {
            fail(.upstream(.noHealthyEndpoint))
            return
        }
        connect(to: endpoint, fresh: false)
    }

    private func resolveSticky(_ policy: StickyPolicy) {
        sticky.resolved = true
        switch policy.settings.mode {
        case .cookie:
            let now = Self.unixSecondsNow()
            for field in request.headerFields where field.name == .cookie {
                guard let range = Self.cookieValueRange(field.value, name: policy.cookieName!) else { continue }
                if let index = policy.pinnedEndpoint(cookieValue: field.value.utf8[range], now: now) {
                    sticky.pinned = index
                    return
                }
            }
        case .header:
            var hash = hashKeyOverride
            if hash == nil, let name = policy.headerName, let value = request.headerFields[name] { hash = StableHash.hash(value.utf8) }
            sticky.hash = hash
            if let hash, let owner = policy.table?.owner(of: hash) { sticky.pinned = owner }
        case .appCookie:
            let name = policy.cookieName!
            var index = request.headerFields.startIndex
            while index < request.headerFields.endIndex {
                defer { index = request.headerFields.index(after: index) }
                let field = request.headerFields[index]
                guard field.name == .cookie, let range = Self.cookieValueRange(field.value, name: name) else { continue }
                let value = field.value.utf8[range]
                guard let endpoint = policy.appPinnedEndpoint(value: value) else {
                    sticky.appValue = String(field.value[range])
                    continue
                }
                // The application must see its own value: strip the prefix before the request goes up.
                let rest = field.value.utf8.index(range.lowerBound, offsetBy: StickyCookieCodec.encodedIDLength + 1)
                sticky.appValue = String(field.value[rest..<range.upperBound])
                sticky.pinned = endpoint
                request.headerFields[index] = HTTPField(name: .cookie, value: String(field.value[..<range.lowerBound]) + String(field.value[rest...]))
                return
            }
        }
    }

    /// Names the answering endpoint in the response when the request did not already name it.
    func addStickyCookie(_ head: inout HTTP1ResponseHead, _ policy: StickyPolicy) {
        guard let endpoint else { return }
        switch policy.settings.mode {
        case .header:
            return
        case .cookie:
            guard endpoint.index != sticky.pinned else { return }
            let line = "Set-Cookie: \(policy.setCookieValue(endpoint: endpoint.index, now: Self.unixSecondsNow()))\r\n"
            head.rawFields.writeString(line)
        case .appCookie(let name, _):
            let prefix = policy.appPrefix(endpoint: endpoint.index)
            if Self.prefixAppCookies(&head, name: name, prefix: prefix) { return }
            // The application did not set its cookie, but the session moved (fallback): say where it is now.
            if let value = sticky.appValue, endpoint.index != sticky.pinned {
                head.rawFields.writeString("Set-Cookie: \(name)=\(prefix)\(value)\(policy.cookieAttributes)\r\n")
            }
        }
    }

    /// Rewrites `Set-Cookie: name=value...` lines to `name=<prefix>value...`; false when there were none.
    private static func prefixAppCookies(_ head: inout HTTP1ResponseHead, name: String, prefix: String) -> Bool {
        var matches = false
        head.forEachRawField { line, _ in
            if !matches, setCookieValueStart(line, name: name) != nil { matches = true }
        }
        guard matches else { return false }
        var rewritten = ByteBufferAllocator().buffer(capacity: head.rawFields.readableBytes + 64)
        head.forEachRawField { line, _ in
            if let start = setCookieValueStart(line, name: name), start < line.count, line[start] != UInt8(ascii: ";") {
                rewritten.writeBytes(UnsafeRawBufferPointer(rebasing: line[..<start]))
                rewritten.writeString(prefix)
                rewritten.writeBytes(UnsafeRawBufferPointer(rebasing: line[start...]))
            } else {
                rewritten.writeBytes(line)
            }
            rewritten.writeStaticString("\r\n")
        }
        head.rawFields = rewritten
        return true
    }

    /// Where the value starts in a `Set-Cookie: name=value; ...` line for cookie `name`, else nil.
    private static func setCookieValueStart(_ line: UnsafeRawBufferPointer, name: String) -> Int? {
        let fieldName = "set-cookie".utf8
        guard line.count > fieldName.count, line[fieldName.count] == UInt8(ascii: ":") else { return nil }
        for (byte, expected) in zip(line, fieldName) where byte | 0x20 != expected { return nil }
        var index = fieldName.count + 1
        while index < line.count, line[index] == UInt8(ascii: " ") || line[index] == UInt8(ascii: "\t") { index += 1 }
        for byte in name.utf8 {
            guard index < line.count, line[index] == byte else { return nil }
            index += 1
        }
        guard index < line.count, line[index] == UInt8(ascii: "=") else { return nil }
        return index + 1
    }

    /// The range of cookie `name`'s value in a `Cookie` field (`a=1; sid=xyz`).
    static func cookieValueRange(_ field: String, name: String) -> Range<String.Index>? {
        let bytes = field.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ";") { index = bytes.index(after: index) }
            let pairStart = index
            while index < bytes.endIndex, bytes[index] != UInt8(ascii: ";") { index = bytes.index(after: index) }
            let pair = bytes[pairStart..<index]
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            if pair[pairStart..<equals].elementsEqual(name.utf8) {
                var end = index
                while end > equals, bytes[bytes.index(before: end)] == UInt8(ascii: " ") { end = bytes.index(before: end) }
                return bytes.index(after: equals)..<end
            }
        }
        return nil
    }

    /// The cluster a valid sticky cookie of `request` pins it to (`FilterContext.stickyCluster`). Takes the
    /// request as a parameter: a request-head hook holds `self.request` (inout) while it runs.
    func stickyClusterName(_ request: HTTPRequest) -> String? {
        let clusters = loop.runtime.stickyCookieClusters
        guard !clusters.isEmpty else { return nil }
        let now = Self.unixSecondsNow()
        for index in clusters {
            // This loop's copy: a DNS cluster's endpoints (and sticky ids) may have changed since load.
            let cluster = loop.clusters[index].cluster
            guard let policy = cluster.sticky, let name = policy.cookieName else { continue }
            for field in request.headerFields where field.name == .cookie {
                guard let range = Self.cookieValueRange(field.value, name: name) else { continue }
                let value = field.value.utf8[range]
                switch policy.settings.mode {
                case .cookie: if policy.pinnedEndpoint(cookieValue: value, now: now) != nil { return cluster.name }
                case .appCookie: if policy.appPinnedEndpoint(value: value) != nil { return cluster.name }
                case .header: break
                }
            }
        }
        return nil
    }

    /// Wall-clock seconds: cookie expiries must mean the same on every instance and after a restart.
    static func unixSecondsNow() -> UInt32 { UInt32(clamping: time(nil)) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
