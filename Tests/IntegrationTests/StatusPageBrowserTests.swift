import Foundation
import Testing

/// The admin status page as a browser renders it: Debian's headless Chromium loads it, runs its live
/// refresh script, and prints the resulting DOM, which the test reads.
@Suite("Status page in headless Chromium")
struct StatusPageBrowserTests {
    static let chromium = "/usr/bin/chromium"

    /// Loads `url`, lets the page's timers run for `budget` ms of virtual time, and returns the DOM.
    /// Bounded: Chromium is killed (by its PID) if it has not finished after `timeout` seconds.
    static func dumpDOM(_ url: String, budget: Int = 3000, timeout: Double = 30) async throws -> String {
        let folder = NSTemporaryDirectory() + "portcullis-chromium-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = folder + "/dom.html"
        guard FileManager.default.createFile(atPath: output, contents: nil) else { throw TestFailure("cannot create \(output)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        // As root Chromium needs --no-sandbox; a fresh profile keeps runs independent.
        process.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                             "--user-data-dir=\(folder)/profile", "--virtual-time-budget=\(budget)", "--dump-dom", url]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let finished = try await offPool {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(pid, SIGKILL)
                process.waitUntilExit()
                return false
            }
            return true
        }
        guard finished else { throw TestFailure("chromium did not finish within \(timeout) s") }
        return try String(contentsOfFile: output, encoding: .utf8)
    }

    /// The text of the element with `id` in the dumped DOM (the page's cells hold plain text).
    static func text(_ dom: String, id: String) -> String? {
        guard let start = dom.range(of: "id=\"\(id)\"") else { return nil }
        guard let open = dom[start.upperBound...].firstIndex(of: ">") else { return nil }
        let rest = dom[dom.index(after: open)...]
        guard let close = rest.firstIndex(of: "<") else { return nil }
        return String(rest[..<close])
    }

    /// An attribute of the `<body>` element.
    static func bodyAttribute(_ dom: String, _ name: String) -> String? {
        guard let body = dom.range(of: "<body"), let end = dom[body.upperBound...].firstIndex(of: ">") else { return nil }
        let tag = dom[body.upperBound..<end]
        guard let attribute = tag.range(of: "\(name)=\"") else { return nil }
        return String(tag[attribute.upperBound...].prefix { $0 != "\"" })
    }

    @Test("Chromium renders listeners, routes, clusters and each endpoint's health, and the live refresh updates the counters")
    func rendersAndRefreshes() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.chromium), "apt-get install chromium (DEPS_TEST)")
        // The page is loaded through the gateway's own listener (a route to the admin port): loading it is then
        // itself a request the page counts. Its server-side HTML is rendered while that request is in flight, so
        // `public` shows the test's requests in 2xx; once the live refresh ran, the finished page load is in too.
        let admin = try TestGateway.closedPort()
        let yaml = """
            admin: { address: 127.0.0.1:\(admin) }
            workers: 2
            listeners:
              - name: public
                address: 127.0.0.1:0
                routes:
                  - { match: { path_prefix: /api/ }, cluster: api }
                  - { match: { path_prefix: / }, cluster: admin-ui }
              - name: internal
                address: 127.0.0.1:0
                routes: [ { match: { path_prefix: / }, cluster: api } ]
            clusters:
              - name: api
                endpoints: [ { address: "{{echo0}}" }, { address: "{{closed}}" } ]
                health_check: { http: { path: /healthz }, interval: 100ms, timeout: 100ms, unhealthy_threshold: 1, healthy_threshold: 1 }
              - name: admin-ui
                endpoints: [ { address: "127.0.0.1:\(admin)" } ]
            """
        try await withGateway(yaml) { gw in
            let echo = "127.0.0.1:\(gw.echoes[0].port)"
            let down = try #require(gw.server.runtime.clusters[0].endpoints.last?.label)
            // Until the checks have run: the live endpoint healthy, the closed one unhealthy.
            let deadline = Date().addingTimeInterval(10)
            var clusters = ""
            while Date() < deadline {
                clusters = try curl(["http://127.0.0.1:\(admin)/clusters"]).body
                if clusters.contains("\"address\":\"\(down)\",\"weight\":1,\"health\":\"unhealthy\",\"active_check\":\"failing\"")
                    && clusters.contains("\"address\":\"\(echo)\",\"weight\":1,\"health\":\"healthy\",\"active_check\":\"passing\"") { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(clusters.contains("\"health\":\"unhealthy\""), "\(clusters)")
            for index in 0..<3 { #expect(try curl(["http://127.0.0.1:\(gw.port("public"))/api/\(index)"]).status == 200) }
            _ = try await gw.accessLog(atLeast: 3)

            let started = Date()
            let dom = try await Self.dumpDOM("http://127.0.0.1:\(gw.port("public"))/")
            print("status page in headless Chromium: \(String(format: "%.2f", Date().timeIntervalSince(started))) s")

            // Server-rendered structure.
            for name in ["public", "internal", "api", "admin-ui", echo, down, "prefix /api/"] {
                #expect(dom.contains(">\(name)<") || dom.contains(">\(name) ") || dom.contains("\(name)</td>") || dom.contains(">\(name)"), "\(name) missing")
            }
            #expect(dom.components(separatedBy: "<tr class=\"listener\">").count - 1 == 2)
            #expect(dom.components(separatedBy: "<tr class=\"route\">").count - 1 == 3)
            #expect(dom.components(separatedBy: "<tr class=\"endpoint\">").count - 1 == 3)
            // Each endpoint's health, as the script last wrote it.
            #expect(Self.text(dom, id: "c0-0-health") == "healthy")
            #expect(Self.text(dom, id: "c0-1-health") == "unhealthy")
            #expect(Self.text(dom, id: "c1-0-health") == "healthy")
            #expect(dom.contains("id=\"c0-1-health\" class=\"l bad\""))
            #expect(Self.text(dom, id: "r0-0-2xx") == "3", "the route of the three API requests")

            // The live refresh ran, and changed what the server had rendered: the page's own load (in flight
            // while the HTML was made, so not in its 2xx count of 3) had finished when the script fetched.
            let refreshes = Int(Self.bodyAttribute(dom, "data-refreshes") ?? "0") ?? 0
            #expect(refreshes >= 1, "the script's refresh did not run")
            let publicOK = Int(Self.text(dom, id: "l0-2xx") ?? "") ?? -1
            #expect(publicOK >= 4 && publicOK <= 3 + refreshes, "2xx of public after \(refreshes) refreshes: \(publicOK)")
            print("status page: public 2xx rendered by the server 3, after \(refreshes) live refresh(es) \(publicOK)")
            #expect(Self.text(dom, id: "updated")?.hasPrefix("updated ") == true)
            #expect(Self.text(dom, id: "r0-1-2xx") == Self.text(dom, id: "l0-2xx").map { String((Int($0) ?? 0) - 3) }, "the admin route counts the page loads")
        }
    }
}
