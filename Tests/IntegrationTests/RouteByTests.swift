import Foundation
import GatewayCore
import Testing

@Suite("route_by filter")
struct RouteByTests {
    static func config(_ filter: String) -> String {
        """
        workers: 2
        listeners:
          - name: main
            address: 127.0.0.1:0
            routes:
              - match: { path_prefix: / }
                cluster: stable
                filters:
        \(filter.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n"))
        clusters:
          - { name: stable, endpoints: [ { address: "{{echo0}}" } ] }
          - { name: beta, endpoints: [ { address: "{{echo1}}" } ] }
          - { name: canary, endpoints: [ { address: "{{echo2}}" } ] }
        """
    }

    static func backend(_ arguments: [String]) throws -> String? {
        try curl(arguments).json["name"] as? String
    }

    @Test("header, cookie and query rules steer to their cluster; no match keeps the route's")
    func rules() async throws {
        let filter = """
        - route_by:
            rules:
              - { match: { header: x-beta, exact: "1" }, cluster: beta }
              - { match: { cookie: tier, prefix: can }, cluster: canary }
              - { match: { query: v, regex: "[0-9]+" }, cluster: beta }
        """
        try await withGateway(backends: 3, Self.config(filter)) { gw in
            let answers = [
                try Self.backend(["-H", "x-beta: 1", "\(gw.baseURL)/a"]),
                try Self.backend(["-H", "x-beta: 2", "\(gw.baseURL)/b"]),
                try Self.backend(["-H", "cookie: a=b; tier=canary-7", "\(gw.baseURL)/c"]),
                try Self.backend(["\(gw.baseURL)/d?x=1&v=42"]),
                try Self.backend(["\(gw.baseURL)/e?v=4x2"]),
                try Self.backend(["\(gw.baseURL)/f"]),
            ]
            #expect(answers == ["echo-1", "echo-0", "echo-2", "echo-1", "echo-0", "echo-0"])
        }
    }

    @Test("a weighted split sticks on a header value and spreads different values")
    func stickySplit() async throws {
        let filter = """
        - route_by:
            default_split: [ { cluster: stable, weight: 50 }, { cluster: canary, weight: 50 } ]
            stick_on: { header: x-user }
        """
        try await withGateway(backends: 3, Self.config(filter)) { gw in
            let first = try Self.backend(["-H", "x-user: alice", "\(gw.baseURL)/1"])
            var repeats: [String?] = []
            for index in 0..<8 { repeats.append(try Self.backend(["-H", "x-user: alice", "\(gw.baseURL)/\(index)"])) }
            #expect(first != nil && repeats.allSatisfy { $0 == first })
            var seen: Set<String> = []
            for index in 0..<24 { if let name = try Self.backend(["-H", "x-user: user\(index)", "\(gw.baseURL)/u"]) { seen.insert(name) } }
            #expect(seen == ["echo-0", "echo-2"])
        }
    }

    @Test("an unknown cluster is a config error at its line")
    func unknownCluster() throws {
        let yaml = Self.config("- route_by: { rules: [ { match: { header: x, present: true }, cluster: nope } ] }")
            .replacingOccurrences(of: "{{echo0}}", with: "127.0.0.1:1").replacingOccurrences(of: "{{echo1}}", with: "127.0.0.1:2")
            .replacingOccurrences(of: "{{echo2}}", with: "127.0.0.1:3")
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "inline.yaml", filters: try FilterRegistry(builtinFilterTypes))
            Issue.record("accepted an unknown cluster")
        } catch {
            #expect("\(error)".contains("inline.yaml:") && "\(error)".contains("unknown cluster 'nope'"), "\(error)")
        }
    }
}
