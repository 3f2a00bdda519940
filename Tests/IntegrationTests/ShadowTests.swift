import Foundation
import GatewayCore
import Testing

@Suite("shadow filter")
struct ShadowTests {
    static func config(_ shadow: String, shadowEndpoint: String = "{{echo1}}") -> String {
        """
        workers: 2
        access_log: { metadata: [shadow.decision] }
        listeners:
          - name: main
            address: 127.0.0.1:0
            routes:
              - match: { path_prefix: / }
                cluster: primary
                filters:
                  - shadow: \(shadow)
        clusters:
          - { name: primary, endpoints: [ { address: "{{echo0}}" } ] }
          - { name: mirror, endpoints: [ { address: "\(shadowEndpoint)" } ] }
        """
    }

    static func wait(until condition: () -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return condition()
    }

    @Test("a mirrored request reaches the shadow with its body and the tag; Host is left alone; the primary answers as usual")
    func mirrors() async throws {
        try await withGateway(backends: 2, Self.config("{ cluster: mirror }")) { gw in
            let primary = try curl(["-H", "Host: shop.example", "--data-binary", "hello shadow", "\(gw.baseURL)/order"])
            #expect(primary.status == 200 && primary.json["name"] as? String == "echo-0")
            let arrived = try await Self.wait { gw.echoes[1].stats.requests == 1 }
            #expect(arrived)
            let copy = gw.echoes[1].stats.lastRequest
            #expect(copy.headers["x-shadow"] == "1")
            #expect(copy.headers["host"] == "shop.example")
            #expect(copy.bodyBytes == 12)
            #expect(try await gw.accessLogLine(path: "/order")["metadata"] as? [String: String] == ["shadow.decision": "sent"])
        }
    }

    @Test("a shadow that hangs or is down never slows or fails the primary")
    func isolation() async throws {
        // A socket that listens but never accepts: connects succeed (the kernel's backlog), nothing answers.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(silent, $0, &length) } }
        #expect(listen(silent, 64) == 0)
        let hanging = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        for endpoint in ["{{closed}}", hanging] {
            try await withGateway(backends: 2, Self.config("{ cluster: mirror, timeout: 5s }", shadowEndpoint: endpoint)) { gw in
                let started = Date()
                var statuses: [Int] = []
                for index in 0..<5 { statuses.append(try curl(["--data-binary", "x", "\(gw.baseURL)/p\(index)"]).status) }
                #expect(statuses == [200, 200, 200, 200, 200])
                #expect(Date().timeIntervalSince(started) < 3, "the primary waited for the shadow (\(endpoint))")
                let decisions = try await gw.accessLog(atLeast: 5).compactMap { ($0["metadata"] as? [String: String])?["shadow.decision"] }
                #expect(decisions == Array(repeating: "sent", count: 5), "the copies were sent, and are still pending or failed")
            }
        }
    }

    @Test("bodies over max_body_bytes are not mirrored, and are counted in the access log")
    func overCap() async throws {
        try await withGateway(backends: 2, Self.config("{ cluster: mirror, max_body_bytes: 1k }")) { gw in
            let big = try shell("head -c 5000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' --data-binary @- '\(gw.baseURL)/big'")
            #expect(big.stdout == "200")
            #expect(try await gw.accessLogLine(path: "/big")["metadata"] as? [String: String] == ["shadow.decision": "over_cap"])
            #expect(gw.echoes[1].stats.requests == 0)
        }
    }

    @Test("percent 0 and a header match select nothing, or only matching requests")
    func selection() async throws {
        try await withGateway(backends: 2, Self.config("{ cluster: mirror, match: { header: x-mirror, value: yes } }")) { gw in
            _ = try curl(["\(gw.baseURL)/plain"])
            _ = try curl(["-H", "x-mirror: no", "\(gw.baseURL)/no"])
            _ = try curl(["-H", "x-mirror: yes", "\(gw.baseURL)/yes"])
            let mirrored = try await Self.wait { gw.echoes[1].stats.requests == 1 }
            #expect(mirrored)
            try await Task.sleep(for: .milliseconds(200))
            #expect(gw.echoes[1].stats.requests == 1)
        }
        try await withGateway(backends: 2, Self.config("{ cluster: mirror, percent: 0 }")) { gw in
            for index in 0..<5 { _ = try curl(["\(gw.baseURL)/n\(index)"]) }
            _ = try await gw.accessLog(atLeast: 5)
            #expect(gw.echoes[1].stats.requests == 0)
        }
    }
}
