#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// Which address families a DNS-discovered cluster uses (`dns.family`).
public enum AddressFamilyPreference: String, Sendable, CaseIterable {
    /// IPv4 and IPv6 addresses both become endpoints.
    case auto
    case v4
    case v6
}

/// Finds every address of a host name. Resolution happens off the request path (at load and on each
/// refresh), never per request.
public protocol HostResolver: Sendable {
    /// The host's addresses, deduplicated, in the resolver's order. An empty list means the name exists
    /// no more (NXDOMAIN or no records); a failure means the answer is unknown (keep what you had).
    func resolve(_ host: String, family: AddressFamilyPreference, on eventLoop: EventLoop) -> EventLoopFuture<[String]>
}

/// The system's resolver (`getaddrinfo`: /etc/hosts, then the servers in /etc/resolv.conf), run on a
/// thread pool because it blocks.
public struct SystemHostResolver: HostResolver {
    public init() {}

    public func resolve(_ host: String, family: AddressFamilyPreference, on eventLoop: EventLoop) -> EventLoopFuture<[String]> {
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            try Self.lookup(host, family: family)
        }
    }

    struct LookupError: Error, CustomStringConvertible {
        var description: String
    }

    static func lookup(_ host: String, family: AddressFamilyPreference) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = family == .v4 ? AF_INET : family == .v6 ? AF_INET6 : AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        // EAI_NODATA (-5, glibc) is not exported to Swift: the name exists but has no address of this family.
        if status == EAI_NONAME || status == -5 { return [] }
        guard status == 0 else { throw LookupError(description: String(cString: gai_strerror(status))) }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var node = list
        while let entry = node?.pointee {
            if let text = numericHost(entry), !addresses.contains(text) { addresses.append(text) }
            node = entry.ai_next
        }
        return addresses
    }

    private static func numericHost(_ entry: addrinfo) -> String? {
        guard let address = entry.ai_addr else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, entry.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        return String(cString: buffer)
    }
}
