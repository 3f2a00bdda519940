import Foundation
import Testing

@Suite("Config hot reload")
struct ReloadTests {
    static func config(cluster: String, extraListener: String = "") -> String {
        """
        workers: 2
        listeners:
          - name: main
            address: 127.0.0.1:0
            routes: [ { match: { path_prefix: / }, cluster: \(cluster) } ]
        \(extraListener)
        clusters:
          - { name: one, endpoints: [ { address: "{{echo0}}" } ] }
          - { name: two, endpoints: [ { address: "{{echo1}}" } ] }
        """
    }

    @Test("new requests get the new config on the same socket; an open keep-alive connection finishes with Connection: close")
    func routesChange() async throws {
        try await withGateway(backends: 2, Self.config(cluster: "one")) { gw in
            let port = gw.port()
            let client = try RawClient(port: port)
            try client.send("GET /before HTTP/1.1\r\nHost: t\r\n\r\n")
            let before = try #require(try client.readResponses(1).first)
            #expect(before.json["name"] as? String == "echo-0")
            #expect(before.header("connection") == nil)

            try await gw.reload(Self.config(cluster: "two"))
            #expect(gw.port() == port, "the listener kept its socket")
            // The old connection answers once more, on the old config, and says it is the last.
            try client.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
            let last = try #require(try client.readResponses(1).first)
            #expect(last.header("connection") == "close")
            #expect(client.isClosedByPeer())
            // A new connection gets the new route.
            let fresh = try curl(["http://127.0.0.1:\(port)/new"])
            #expect(fresh.json["name"] as? String == "echo-1")
        }
    }

    @Test("listeners are added and removed; a config that cannot bind changes nothing")
    func listenersChange() async throws {
        let extra = "  - name: side\n    address: 127.0.0.1:0\n    routes: [ { match: { path_prefix: / }, cluster: two } ]"
        try await withGateway(backends: 2, Self.config(cluster: "one")) { gw in
            try await gw.reload(Self.config(cluster: "one", extraListener: extra))
            let sidePort = gw.port("side")
            #expect(try curl(["http://127.0.0.1:\(sidePort)/side"]).json["name"] as? String == "echo-1")
            try await gw.reload(Self.config(cluster: "one"))
            #expect(gw.server.boundAddresses["side"] == nil)
            #expect(throws: (any Error).self) { try RawClient(port: sidePort) }
            // A listener on a port that is taken: the reload fails and the running config stays.
            let blocker = try await TestGateway.start(simpleConfig())
            let taken = "  - name: clash\n    address: 127.0.0.1:\(blocker.port())\n    reuse_port: false\n    routes: [ { match: { path_prefix: / }, cluster: two } ]"
            await #expect(throws: (any Error).self) { try await gw.reload(Self.config(cluster: "two", extraListener: taken)) }
            await blocker.stop()
            #expect(try curl(["\(gw.baseURL)/still"]).json["name"] as? String == "echo-0")
        }
    }

    @Test("reloads under load fail no request", arguments: ["--h1", ""])
    func noFailedRequests(protocolFlag: String) async throws {
        let h2c = protocolFlag.isEmpty
        let yaml = Self.config(cluster: "one").replacingOccurrences(of: "    routes: [", with: h2c ? "    http2: { cleartext: true }\n    routes: [" : "    routes: [")
        try await withGateway(backends: 2, yaml) { gw in
            let url = "\(gw.baseURL)/load"
            // HTTP/1.1 without pipelining: a pipelining client must retry what follows a `Connection: close`
            // (RFC 9112 §9.3.2), which h2load does not do.
            let streams = h2c ? 4 : 1
            let load = Task.detached { try shell("h2load \(protocolFlag) -n 3000 -c 8 -m \(streams) '\(url)' 2>&1") }
            for round in 0..<6 {
                try await Task.sleep(for: .milliseconds(60))
                try await gw.reload((round % 2 == 0 ? Self.config(cluster: "two") : Self.config(cluster: "one"))
                    .replacingOccurrences(of: "    routes: [", with: h2c ? "    http2: { cleartext: true }\n    routes: [" : "    routes: ["))
            }
            let output = try await load.value.stdout
            // Every request the client started succeeded. (h2load does not reconnect after GOAWAY: after a
            // reload's GOAWAY, the requests a connection had not yet started are reported as failed,
            // although the gateway never refused or lost one; a browser or curl opens a new connection.)
            let counts = output.split(separator: "\n").first { $0.hasPrefix("requests:") }.map(String.init) ?? ""
            let numbers = counts.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }
            #expect(numbers.count >= 4, "\(output)")
            if numbers.count >= 4 {
                let (started, done, succeeded) = (numbers[1], numbers[2], numbers[3])
                #expect(started == done, "\(counts)")
                if h2c {
                    // h2load also counts as started (and failed) a request it had queued but not sent when a
                    // GOAWAY came in (nghttp2 then refuses to send it). What must hold: every request that
                    // reached the gateway succeeded, and nothing else did.
                    #expect(succeeded > 0, "\(counts)")
                    let served = try await gw.accessLog(atLeast: succeeded, within: 5).filter { ($0["path"] as? String) == "/load" }
                    #expect(served.count == succeeded, "the gateway served \(served.count) requests, h2load saw \(succeeded) succeed: \(counts)")
                    #expect(served.allSatisfy { $0["status"] as? Int == 200 })
                } else {
                    #expect(done == succeeded && started == 3000, "\(counts)")
                }
            }
            #expect(!output.contains(" 5xx") || output.contains(" 0 5xx"), "\(output)")
            #expect(output.contains("0 4xx, 0 5xx"), "\(output)")
        }
    }

    @Test("the real binary reloads on file change, SIGHUP and POST /reload, and rejects a bad config")
    func binary() async throws {
        let folder = NSTemporaryDirectory() + "portcullis-reload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let backends = try await TestGateway.start(backends: 2, simpleConfig())
        let (port, adminPort) = (try TestGateway.closedPort(), try TestGateway.closedPort())
        func yaml(_ backend: Int) -> String {
            """
            admin: { address: 127.0.0.1:\(adminPort) }
            listeners:
              - { name: main, address: 127.0.0.1:\(port), routes: [ { match: { path_prefix: / }, cluster: c } ] }
            clusters:
              - { name: c, endpoints: [ { address: "127.0.0.1:\(backends.echoes[backend].port)" } ] }
            """
        }
        let path = folder + "/gw.yaml"
        try yaml(0).write(toFile: path, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ConfigCommandTests.binary)
        process.arguments = ["run", "--config", path]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        func served() async throws -> String? {
            for _ in 0..<100 {
                if let name = (try? curl(["http://127.0.0.1:\(port)/"]))?.json["name"] as? String { return name }
                try await Task.sleep(for: .milliseconds(50))
            }
            return nil
        }
        func waitFor(_ name: String) async throws -> Bool {
            for _ in 0..<100 {
                if try await served() == name { return true }
                try await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        #expect(try await served() == "echo-0")
        try yaml(1).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await waitFor("echo-1"), "file change picked up")
        try "listeners: [oops".write(toFile: path, atomically: true, encoding: .utf8)
        let rejected = try curl(["-X", "POST", "http://127.0.0.1:\(adminPort)/reload"])
        #expect(rejected.status == 400 && rejected.body.contains("gw.yaml:2:"), "\(rejected.body)")
        #expect(try await served() == "echo-1", "the old config keeps serving")
        try yaml(0).write(toFile: path, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        #expect(try await waitFor("echo-0"), "SIGHUP")
        #expect(try curl(["-X", "POST", "http://127.0.0.1:\(adminPort)/reload"]).status == 200)
        process.terminate()
        process.waitUntilExit()
        await backends.stop()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("config reload rejected"))
        #expect(log.contains("config reloaded"))
    }
}
