import GatewayCore
import Testing

/// Inline YAML and small helpers shared by the config, effective-config and route-table tests.
enum ConfigFixture {
    static let file = "gateway.yaml"

    /// Everything required and nothing more: one listener, one route, one cluster, one endpoint.
    static let minimal = """
        listeners:
          - name: public
            address: 127.0.0.1:8080
            routes:
              - match: { path_prefix: / }
                cluster: web
        clusters:
          - name: web
            endpoints:
              - address: 127.0.0.1:9001
        """

    /// Every section and key, with values that differ from the defaults where that is allowed; the second
    /// listener and the `web` cluster are left to the defaults.
    static let full = """
        workers: 4
        access_log:
          enabled: false
        listeners:
          - name: public
            address: 0.0.0.0:8080
            limits:
              max_header_bytes: 16k
              max_headers: 50
              max_uri_bytes: 4096
              max_body_bytes: 10MiB
            timeouts:
              header_read: 5s
              body_read: 250ms
              idle: 2m
              request: off
            routes:
              - match: { host: API.Example.com, path_prefix: /v1/ }
                cluster: api
                limits: { max_body_bytes: 1g }
                timeouts: { request: 1h }
              - match: { host: "*.example.com", path: /health }
                cluster: web
                limits: { max_body_bytes: 0 }
                timeouts: { request: 1500ms }
              - match: {}
                cluster: web
          - name: admin
            address: "[::1]:9090"
            routes:
              - match: { path_prefix: /admin }
                cluster: api
        clusters:
          - name: api
            lb: round_robin
            timeouts: { connect: 2s, idle: 0 }
            pool: { max_idle_per_endpoint: 8, max_requests_per_connection: 1000 }
            endpoints:
              - address: 10.0.0.1:9001
                weight: 5
              - address: "[fd00::2]:9002"
          - name: web
            endpoints:
              - { address: localhost:8081, weight: 0 }
        """

    /// `minimal` with one piece of text replaced, to make a config with exactly one thing wrong.
    static func minimal(replacing old: String, with new: String) -> String {
        precondition(minimal.contains(old), "the minimal fixture has no '\(old)'")
        return minimal.replacing(old, with: new)
    }

    static func parse(_ yaml: String) throws(ConfigErrors) -> GatewayConfig {
        try ConfigLoader.parse(yaml: yaml, file: file)
    }

    /// Every error one load reports; empty when the config is valid.
    static func errors(_ yaml: String) -> [ConfigError] {
        do {
            _ = try parse(yaml)
            return []
        } catch {
            return error.errors
        }
    }

    /// The one error a load reports; fails the test when there is none or more than one.
    static func singleError(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ConfigError {
        let errors = errors(yaml)
        try #require(errors.count == 1, "expected exactly one error, got:\n\(errors.map(\.description).joined(separator: "\n"))",
                     sourceLocation: sourceLocation)
        return errors[0]
    }

    /// The 1-based number of the line of `yaml` that contains `needle`, which must occur on exactly one line.
    static func line(of needle: String, in yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        let hits = lines.indices.filter { lines[$0].contains(needle) }
        #expect(hits.count == 1, "'\(needle)' should be on exactly one line of the fixture", sourceLocation: sourceLocation)
        return (hits.first ?? -1) + 1
    }
}

/// A config with one thing wrong, and where and how the loader must report it.
struct ConfigErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var keyPath: String
    /// Text on the line the error must point at (it must occur on one line only).
    var at: String
    /// A fragment the message must contain.
    var message: String

    var testDescription: String { name }

    init(_ name: String, _ yaml: String, keyPath: String, at: String, message: String) {
        self.name = name
        self.yaml = yaml
        self.keyPath = keyPath
        self.at = at
        self.message = message
    }

    /// The load fails with exactly this one error.
    func verify(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let error = try ConfigFixture.singleError(yaml, sourceLocation: sourceLocation)
        #expect(error.file == ConfigFixture.file, sourceLocation: sourceLocation)
        #expect(error.line == ConfigFixture.line(of: at, in: yaml, sourceLocation: sourceLocation), "\(error)", sourceLocation: sourceLocation)
        #expect(error.keyPath == keyPath, sourceLocation: sourceLocation)
        #expect(error.message.contains(message), "message was: \(error.message)", sourceLocation: sourceLocation)
    }
}
