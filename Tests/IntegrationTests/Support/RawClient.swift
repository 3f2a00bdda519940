import Foundation

/// A blocking TCP client on plain POSIX sockets, independent of the gateway's own code: it sends
/// exactly the bytes a test gives it, including malformed ones, and reads what comes back.
// Used by one task at a time; `@unchecked` so blocking reads can move off the cooperative pool (`offPool`).
final class RawClient: @unchecked Sendable {
    private let fd: Int32
    var fdForTests: Int32 { fd }

    init(port: Int, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { close(fd); throw TestFailure("connect to \(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw TestFailure("send failed: errno \(errno)") }
            offset += written
        }
    }

    /// Reads until the peer closes (or the receive timeout passes). Returns what arrived and whether
    /// the connection was closed by the peer.
    func readUntilClose() -> (text: String, closed: Bool) {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count > 0 { data.append(contentsOf: buffer[0..<count]); continue }
            return (String(decoding: data, as: UTF8.self), count == 0 || errno == ECONNRESET)
        }
    }

    /// Reads complete responses (Content-Length or chunked framing) until `count` have arrived.
    func readResponses(_ count: Int) throws -> [RawResponse] {
        var data: [UInt8] = []
        var responses: [RawResponse] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while responses.count < count {
            if let (response, used) = RawResponse.parse(data) {
                responses.append(response)
                data.removeFirst(used)
                continue
            }
            let received = recv(fd, &buffer, buffer.count, 0)
            guard received > 0 else { throw TestFailure("connection ended after \(responses.count) responses; pending: \(String(decoding: data, as: UTF8.self))") }
            data.append(contentsOf: buffer[0..<received])
        }
        return responses
    }

    /// True if the peer closed the connection within the receive timeout (reads nothing else).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, 0)
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }
}

/// A parsed HTTP/1.1 response, for assertions.
struct RawResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Parses one response from the front of `data`; nil if incomplete.
    static func parse(_ data: [UInt8]) -> (RawResponse, Int)? {
        let text = data
        guard let headEnd = find([13, 10, 13, 10], in: text, from: 0) else { return nil }
        let head = String(decoding: text[0..<headEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var response = RawResponse(status: status, headers: headers, body: "")
        var position = headEnd + 4
        if status == 100 { return parse(Array(data[position...])).map { ($0.0, $0.1 + position) } }
        if let length = response.header("content-length").flatMap(Int.init) {
            guard text.count >= position + length else { return nil }
            response.body = String(decoding: text[position..<(position + length)], as: UTF8.self)
            return (response, position + length)
        }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while true {
                guard let lineEnd = find([13, 10], in: text, from: position) else { return nil }
                let sizeText = String(decoding: text[position..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText, radix: 16) else { return nil }
                position = lineEnd + 2
                if size == 0 {
                    guard let end = find([13, 10, 13, 10], in: text, from: position - 2) else { return nil }
                    response.body = String(decoding: body, as: UTF8.self)
                    return (response, end + 4)
                }
                guard text.count >= position + size + 2 else { return nil }
                body.append(contentsOf: text[position..<(position + size)])
                position += size + 2
            }
        }
        return (response, position)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    /// The echo backend's JSON body.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
    }
}
