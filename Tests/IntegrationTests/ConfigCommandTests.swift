import Foundation
import Testing

/// The real binary's config handling: errors name file, line and key, and the exit code is 2.
@Suite("portcullis check")
struct ConfigCommandTests {
    /// The binary built beside this test bundle (whatever the build folder is called).
    static var binary: String { builtBinary("portcullis") }

    func writeConfig(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "portcullis-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("every config error is reported with file, line and key, and the exit code is 2")
    func errorsHaveLocations() throws {
        let path = try writeConfig("""
        workers: 1
        listeners:
          - name: public
            address: 127.0.0.1:8080
            timeout: { idle: 5s }
            routes:
              - match: { path_prefix: / }
                cluster: missing
        clusters:
          - name: api
            endpoints: [ { address: "127.0.0.1:notaport" } ]
        """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try run(Self.binary, ["check", "--config", path])
        #expect(output.exitCode == 2)
        #expect(output.stderr.contains("\(path):5:5: listeners[0].timeout: unknown key 'timeout' (did you mean 'timeouts'?)"), "\(output.stderr)")
        #expect(output.stderr.contains("\(path):8:18: listeners[0].routes[0].cluster: unknown cluster 'missing' (defined: api)"), "\(output.stderr)")
        let reported = output.stderr.split(separator: "\n")
        #expect(reported.count == 3, "each error once, all of them: \(output.stderr)")
        #expect(output.stderr.contains("\(path):11:29: clusters[0].endpoints[0].address: invalid address '127.0.0.1:notaport'"), "\(output.stderr)")
    }

    @Test("a valid config is printed back with defaults filled in")
    func validConfig() throws {
        let path = try writeConfig("""
        listeners:
          - name: public
            address: 127.0.0.1:8080
            routes: [ { match: { path_prefix: /api }, cluster: api } ]
        clusters:
          - name: api
            endpoints: [ { address: 127.0.0.1:9001 } ]
        """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try run(Self.binary, ["check", "--config", path])
        #expect(output.exitCode == 0)
        #expect(output.stdout.contains("timeouts: { header_read: 10s, body_read: 30s, idle: 1m, request: 1m }"))
        #expect(output.stdout.contains("timeouts: { connect: 5s, idle: 30s }"))
    }

    @Test("a missing config file is an error naming the file, exit code 2")
    func missingFile() throws {
        let output = try run(Self.binary, ["check", "--config", "/nonexistent/portcullis.yaml"])
        #expect(output.exitCode == 2)
        #expect(output.stderr.contains("/nonexistent/portcullis.yaml: cannot read file"))
    }

    @Test("run with an invalid config exits 2 without listening")
    func runRejectsInvalidConfig() throws {
        let path = try writeConfig("listeners: []\nclusters: []\nbogus: 1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try run(Self.binary, ["run", "--config", path])
        #expect(output.exitCode == 2)
        #expect(output.stderr.contains("\(path):3:1: bogus: unknown key 'bogus'"))
    }

    @Test("the demo config in config/ is valid")
    func demoConfigIsValid() throws {
        // The demo's HTTPS listener needs the dev certificates (make run and make test create them too).
        _ = try shell("'\(packageRoot)/certs/generate.sh' >/dev/null")
        // Paths in the demo config are relative to the project root, where make runs the gateway.
        let output = try shell("cd '\(packageRoot)' && '\(Self.binary)' check --config config/portcullis.yaml")
        #expect(output.exitCode == 0, "\(output.stderr)")
    }
}
