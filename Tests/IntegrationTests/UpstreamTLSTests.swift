import Foundation
import GatewayCore
import GatewayTLS
import Testing

/// Certificates for upstream TLS tests, made with the openssl command line for one test: a CA, a server
/// certificate it signed for `api.internal` (and IP 127.0.0.1), a client certificate it signed for
/// `gateway.client`, and a second, unrelated CA.
struct UpstreamPKI {
    let folder: String

    init() throws {
        folder = NSTemporaryDirectory() + "portcullis-upstream-pki-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        let script = """
        cd '\(folder)' && \
        openssl req -x509 \(ec) -days 2 -subj '/CN=Upstream Test CA' -keyout ca.key -out ca.pem && \
        openssl req -x509 \(ec) -days 2 -subj '/CN=Rogue CA' -keyout rogue.key -out rogue.pem && \
        openssl req \(ec) -subj '/CN=api.internal' -keyout server.key -out server.csr && \
        printf 'subjectAltName=DNS:api.internal,IP:127.0.0.1' > server.ext && \
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem && \
        openssl req \(ec) -subj '/O=Portcullis Tests/CN=gateway.client' -keyout client.key -out client.csr && \
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem
        """
        let result = try shell(script + " 2>&1")
        guard result.exitCode == 0 else { throw TestFailure("openssl failed: \(result.stdout)") }
    }

    func path(_ file: String) -> String { "\(folder)/\(file)" }
    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// A front gateway whose cluster `secure` reaches, over TLS, a second gateway: a TLS listener (certificate
/// `api.internal`) in front of an echo server. The backend gateway's `/metrics` counts its handshakes.
struct UpstreamTLSSetup {
    let pki: UpstreamPKI
    let backend: TestGateway
    let front: TestGateway

    /// - Parameters:
    ///   - tls: The `tls:` map of the front's cluster, as YAML flow text.
    ///   - backendTLS: Extra keys for the backend listener's `tls:` (e.g. client_ca).
    ///   - clusterExtra: More keys of the front's `secure` cluster.
    ///   - backendFilters: The backend listener's filters.
    static func start(tls: (UpstreamPKI) -> String, backendTLS: (UpstreamPKI) -> String = { _ in "" }, clusterExtra: String = "",
                      frontFilters: String = "[]", backendFilters: String = "[]", frontExtra: String = "") async throws -> UpstreamTLSSetup {
        let pki = try UpstreamPKI()
        let backend = try await TestGateway.start(backends: 1, workers: 1, backendConfig(pki, tls: backendTLS(pki), filters: backendFilters))
        do {
            let front = try await TestGateway.start(backends: 1, workers: 2, """
                admin: { address: 127.0.0.1:0 }
                listeners:
                  - name: front
                    address: 127.0.0.1:0
                    http2: { cleartext: true }
                    routes:
                      - match: { path_prefix: /plain/ }
                        cluster: plain
                      - match: { path_prefix: / }
                        cluster: secure
                        filters: \(frontFilters)
                \(frontExtra)
                clusters:
                  - name: secure
                    endpoints: [ { address: "127.0.0.1:\(backend.port())" } ]
                    tls: \(tls(pki))
                \(clusterExtra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
                  - name: plain
                    endpoints: [ { address: "{{echo0}}" } ]
                """)
            return UpstreamTLSSetup(pki: pki, backend: backend, front: front)
        } catch {
            await backend.stop()
            pki.remove()
            throw error
        }
    }

    /// The backend: a TLS listener (on `port`, or any free one) in front of one echo backend.
    static func backendConfig(_ pki: UpstreamPKI, tls extra: String, filters: String = "[]", port: Int = 0) -> String {
        """
        admin: { address: 127.0.0.1:0 }
        listeners:
          - name: backend
            address: 127.0.0.1:\(port)
            tls: { certificates: [ { cert: "\(pki.path("server.pem"))", key: "\(pki.path("server.key"))" } ]\(extra) }
            filters: \(filters)
            routes: [ { match: { path_prefix: / }, cluster: echo } ]
        clusters:
          - name: echo
            endpoints: [ { address: "{{echo0}}" } ]
        """
    }

    func stop() async {
        await front.stop()
        await backend.stop()
        pki.remove()
    }

    var url: String { "http://127.0.0.1:\(front.port())" }

    /// A counter of a gateway's `/metrics`, summed over the lines that contain `labels`.
    static func metric(_ gateway: TestGateway, _ name: String, _ labels: String = "") throws -> Int {
        let text = try curl(["http://127.0.0.1:\(gateway.adminPort)/metrics"]).body
        return text.split(separator: "\n")
            .filter { $0.hasPrefix(name + "{") && (labels.isEmpty || $0.contains(labels)) }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
            .reduce(0, +)
    }

    /// Completed TLS handshakes on the backend's listener.
    func backendHandshakes() throws -> Int { try Self.metric(backend, "portcullis_tls_handshakes_total") }
}

func withUpstreamTLS(tls: @escaping (UpstreamPKI) -> String, backendTLS: @escaping (UpstreamPKI) -> String = { _ in "" }, clusterExtra: String = "",
                     frontFilters: String = "[]", backendFilters: String = "[]", frontExtra: String = "",
                     _ body: (UpstreamTLSSetup) async throws -> Void) async throws {
    let setup = try await UpstreamTLSSetup.start(tls: tls, backendTLS: backendTLS, clusterExtra: clusterExtra, frontFilters: frontFilters,
                                                 backendFilters: backendFilters, frontExtra: frontExtra)
    do {
        try await body(setup)
    } catch {
        await setup.stop()
        throw error
    }
    await setup.stop()
}

@Suite("TLS to upstreams")
struct UpstreamTLSTests {
    @Test("a request through a TLS cluster reaches the backend, from HTTP/1.1 and HTTP/2 clients, with the configured SNI")
    func proxiesOverTLS() async throws {
        let scripts = try LuaScripts()
        defer { scripts.remove() }
        // The backend tells what SNI it was asked for, in a request header the echo server reflects.
        let sni = try scripts.write("sni.lua", """
            function on_request(ctx)
              ctx.req:set_header("x-seen-sni", ctx.req:tls_sni() or "none")
            end
            """)
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" },
                                  backendFilters: "[ { lua: { script: \"\(sni)\" } } ]") { setup in
            for h2 in [false, true] {
                let result = try curl(h2: h2, ["\(setup.url)/hello?h2=\(h2)"])
                #expect(result.status == 200)
                let headers = try #require(result.json["headers"] as? [String: String])
                #expect(headers["x-seen-sni"] == "api.internal")
                #expect(result.json["path"] as? String == "/hello?h2=\(h2)")
            }
            #expect(setup.backend.echoes[0].stats.requests == 2)
            #expect(try UpstreamTLSSetup.metric(setup.front, "portcullis_upstream_tls_handshakes_total", "cluster=\"secure\"") >= 1)
            #expect(try UpstreamTLSSetup.metric(setup.front, "portcullis_upstream_tls_handshake_failures_total", "cluster=\"secure\"") == 0)
        }
    }

    @Test("an IP endpoint without sni sends no SNI and is verified against the certificate's IP address")
    func ipEndpointVerification() async throws {
        let scripts = try LuaScripts()
        defer { scripts.remove() }
        let sni = try scripts.write("sni.lua", """
            function on_request(ctx)
              ctx.req:set_header("x-seen-sni", ctx.req:tls_sni() or "none")
            end
            """)
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\" }" }, backendFilters: "[ { lua: { script: \"\(sni)\" } } ]") { setup in
            let result = try curl(["\(setup.url)/ip"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: String])
            #expect(headers["x-seen-sni"] == "none")
        }
    }

    @Test("an upstream certificate from another CA: 502 with the reason in the access log, nothing forwarded")
    func wrongCA() async throws {
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("rogue.pem"))\", sni: api.internal }" }) { setup in
            let result = try curl(["\(setup.url)/wrong-ca"])
            #expect(result.status == 502)
            let line = try await setup.front.accessLogLine(path: "/wrong-ca")
            let error = try #require(line["error"] as? String)
            #expect(error.contains("certificate verify failed: unable to get local issuer certificate"), "\(error)")
            #expect(line["error_source"] as? String == "upstream")
            #expect(setup.backend.echoes[0].stats.requests == 0)
            #expect(try UpstreamTLSSetup.metric(setup.front, "portcullis_upstream_tls_handshake_failures_total", "cluster=\"secure\"") >= 1)
        }
    }

    @Test("a certificate for another name: 502 hostname mismatch")
    func hostnameMismatch() async throws {
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: db.internal }" }) { setup in
            let result = try curl(["\(setup.url)/mismatch"])
            #expect(result.status == 502)
            let line = try await setup.front.accessLogLine(path: "/mismatch")
            let error = try #require(line["error"] as? String)
            #expect(error.contains("certificate verify failed: hostname mismatch"), "\(error)")
            #expect(setup.backend.echoes[0].stats.requests == 0)
        }
    }

    @Test("verify: false reaches a backend the CA store does not trust")
    func verifyOff() async throws {
        try await withUpstreamTLS(tls: { _ in "{ verify: false }" }) { setup in
            let result = try curl(["\(setup.url)/unverified"])
            #expect(result.status == 200)
        }
    }

    @Test("mTLS: a backend requiring client certificates accepts the configured one and refuses a connection without")
    func mutualTLS() async throws {
        let requireClientCert: (UpstreamPKI) -> String = { ", client_ca: \"\($0.path("ca.pem"))\", client_auth: required" }
        try await withUpstreamTLS(
            tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal, client_certificate: { cert: \"\($0.path("client.pem"))\", key: \"\($0.path("client.key"))\" } }" },
            backendTLS: requireClientCert
        ) { setup in
            let result = try curl(["\(setup.url)/mtls"])
            #expect(result.status == 200)
            let line = try await setup.backend.accessLogLine(path: "/mtls")
            #expect(line["tls_client_subject"] as? String == "CN=gateway.client,O=Portcullis Tests")
        }
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" }, backendTLS: requireClientCert) { setup in
            let result = try curl(["\(setup.url)/anonymous"])
            #expect(result.status == 502)
            #expect(setup.backend.echoes[0].stats.requests == 0)
            let line = try await setup.front.accessLogLine(path: "/anonymous")
            #expect(line["error_source"] as? String == "upstream")
            // TLS 1.3: the server checks the certificate after the handshake and answers with an alert.
            let error = try #require(line["error"] as? String)
            #expect(error.contains("alert certificate required"), "\(error)")
        }
    }

    @Test("keep-alive: many requests over few TLS connections; with one request per connection, sessions are resumed")
    func reuseAndResumption() async throws {
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" }) { setup in
            let urls = (0..<30).map { "\(setup.url)/keepalive/\($0)" }
            let result = try shell("curl -s -w '%{http_code}\\n' " + urls.map { "-o /dev/null '\($0)'" }.joined(separator: " "))
            #expect(result.stdout.split(separator: "\n").allSatisfy { $0 == "200" })
            #expect(setup.backend.echoes[0].stats.requests == 30)
            // One client connection lives on one loop: one upstream connection serves all 30.
            #expect(try setup.backendHandshakes() == 1)
        }
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" },
                                  clusterExtra: "pool: { max_requests_per_connection: 1 }") { setup in
            let urls = (0..<20).map { "\(setup.url)/fresh/\($0)" }
            let result = try shell("curl -s -w '%{http_code}\\n' " + urls.map { "-o /dev/null '\($0)'" }.joined(separator: " "))
            #expect(result.stdout.split(separator: "\n").allSatisfy { $0 == "200" })
            #expect(try setup.backendHandshakes() == 20)
            let handshakes = try UpstreamTLSSetup.metric(setup.front, "portcullis_upstream_tls_handshakes_total", "cluster=\"secure\"")
            let resumed = try UpstreamTLSSetup.metric(setup.front, "portcullis_upstream_tls_resumed_total", "cluster=\"secure\"")
            #expect(handshakes == 20)
            // Only the first connection of the loop needs a full handshake.
            #expect(resumed == 19, "resumed \(resumed) of \(handshakes)")
        }
    }

    @Test("session_resumption: false makes every new connection a full handshake")
    func resumptionOff() async throws {
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal, session_resumption: false }" },
                                  clusterExtra: "pool: { max_requests_per_connection: 1 }") { setup in
            let urls = (0..<5).map { "\(setup.url)/full/\($0)" }
            _ = try shell("curl -s " + urls.map { "-o /dev/null '\($0)'" }.joined(separator: " "))
            #expect(setup.backend.echoes[0].stats.requests == 5)
            #expect(try UpstreamTLSSetup.metric(setup.front, "portcullis_upstream_tls_resumed_total", "cluster=\"secure\"") == 0)
        }
    }

    @Test("a body of several MB streams both ways through a TLS upstream")
    func largeBodies() async throws {
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" }) { setup in
            let download = try shell("curl -s -o /dev/null -w '%{http_code} %{size_download}' '\(setup.url)/big?bytes=6000000'")
            #expect(download.stdout == "200 6000000")
            let upload = try shell("head -c 4000000 /dev/zero | curl -s -T - -H 'Expect:' '\(setup.url)/upload'")
            #expect(upload.stdout.contains("\"body_bytes\":4000000"), "\(upload.stdout.prefix(200))")
            let h2 = try shell("head -c 3000000 /dev/zero | curl -s --http2-prior-knowledge -T - '\(setup.url)/upload-h2'")
            #expect(h2.stdout.contains("\"body_bytes\":3000000"), "\(h2.stdout.prefix(200))")
        }
    }

    @Test("a Lua ctx:http_call to a TLS cluster goes over TLS through the same pool")
    func luaHTTPCall() async throws {
        let scripts = try LuaScripts()
        defer { scripts.remove() }
        let call = try scripts.write("call.lua", """
            function on_request(ctx)
              local res, err = ctx:http_call("secure", { path = "/side-call", timeout_ms = 3000 })
              if not res then return ctx:respond(500, nil, err) end
              local sent = gw.json.decode(res.body)
              ctx:respond(200, nil, res.status .. " " .. sent.path .. " " .. sent.headers["x-forwarded-proto"])
            end
            """)
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" },
                                  frontFilters: "[ { lua: { script: \"\(call)\" } } ]") { setup in
            let result = try curl(["\(setup.url)/outer"])
            #expect(result.status == 200)
            // The backend gateway saw an https request: the call came through its TLS listener.
            #expect(result.body == "200 /side-call https")
            #expect(try setup.backendHandshakes() >= 1)
        }
    }

    @Test("HTTP health checks on a TLS cluster speak TLS: a trusted backend stays healthy, an untrusted one is ejected")
    func healthChecks() async throws {
        // No panic mode: with its only endpoint down, the cluster must refuse rather than try it anyway.
        let check = "health_check: { http: { path: /healthz }, interval: 100ms, timeout: 100ms, unhealthy_threshold: 1 }\npanic_threshold: 0"
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("ca.pem"))\", sni: api.internal }" }, clusterExtra: check) { setup in
            // The probes reach the echo server through the backend's TLS listener.
            _ = try await setup.backend.accessLogLine(path: "/healthz")
            #expect(try UpstreamTLSSetup.metric(setup.front, "portcullis_endpoint_healthy", "cluster=\"secure\"") == 1)
            #expect(try curl(["\(setup.url)/after-probes"]).status == 200)
        }
        try await withUpstreamTLS(tls: { "{ ca: \"\($0.path("rogue.pem"))\", sni: api.internal }" }, clusterExtra: check) { setup in
            let deadline = Date().addingTimeInterval(5)
            while try UpstreamTLSSetup.metric(setup.front, "portcullis_endpoint_healthy", "cluster=\"secure\"") != 0 {
                guard Date() < deadline else { throw TestFailure("the endpoint never turned unhealthy") }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try curl(["\(setup.url)/no-healthy"]).status == 503)
            #expect(setup.backend.echoes[0].stats.requests == 0)
        }
    }
}

/// `openssl s_server -www` limited to TLS 1.2: an independent TLS server that answers each request with an
/// HTTP/1.0 status page and closes. It exits by itself after `connections` connections (or when stopped).
final class OpenSSLTestServer {
    let process = Process()
    let port: Int

    init(pki: UpstreamPKI, connections: Int) throws {
        port = try TestGateway.closedPort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.path("server.pem"), "-key", pki.path("server.key"),
                             "-tls1_2", "-www", "-quiet", "-naccept", "\(connections)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Ready when it accepts a TCP connection (which counts as one of `connections`).
        let deadline = Date().addingTimeInterval(5)
        while !Self.accepts(port) {
            guard Date() < deadline, process.isRunning else { throw TestFailure("openssl s_server did not start") }
            usleep(10_000)
        }
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

@Suite("TLS to upstreams: openssl s_server and non-TLS endpoints")
struct UpstreamTLSOpenSSLServerTests {
    static func config(port: Int, tls: String) -> String {
        simpleConfig(endpoints: ["127.0.0.1:\(port)"], clusterExtra: "tls: \(tls)", workers: 1)
    }

    @Test("a TLS 1.2-only backend is reached, and each new connection resumes the last session")
    func tls12() async throws {
        let pki = try UpstreamPKI()
        defer { pki.remove() }
        let server = try OpenSSLTestServer(pki: pki, connections: 6)
        defer { server.stop() }
        try await withGateway(backends: 0, workers: 1, Self.config(port: server.port, tls: "{ ca: \"\(pki.path("ca.pem"))\", sni: api.internal }")) { gw in
            // s_server closes after each answer: every request needs a new connection.
            let urls = (0..<5).map { "-o /dev/null '\(gw.baseURL)/?n=\($0)'" }
            let result = try shell("curl -s -w '%{http_code}\\n' " + urls.joined(separator: " "))
            #expect(result.stdout == String(repeating: "200\n", count: 5))
            let status = try await gw.server.metricsSnapshot(on: gw.group.next()).get()
            #expect(status.clusters[0].tlsHandshakes == 5)
            #expect(status.clusters[0].tlsResumed == 4)
        }
    }

    @Test("a TLS cluster whose endpoint speaks plain HTTP: 502 with the reason; one that never answers the ClientHello: 504")
    func notTLS() async throws {
        // A socket that listens but never accepts: the kernel completes the TCP handshake, nobody speaks.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        #expect(listen(fd, 8) == 0)
        let silent = Int(UInt16(bigEndian: address.sin_port))
        try await withGateway(backends: 1, workers: 1, """
            listeners:
              - name: test
                address: 127.0.0.1:0
                routes:
                  - { match: { path_prefix: /plain }, cluster: plain }
                  - { match: { path_prefix: / }, cluster: silent }
            clusters:
              - name: plain
                endpoints: [ { address: "{{echo0}}" } ]
                tls: { verify: false }
              - name: silent
                endpoints: [ { address: "127.0.0.1:\(silent)" } ]
                timeouts: { connect: 300ms }
                tls: { verify: false }
            """) { gw in
            #expect(try curl(["\(gw.baseURL)/plain"]).status == 502)
            let plain = try #require(try await gw.accessLogLine(path: "/plain")["error"] as? String)
            #expect(plain.hasPrefix("upstream connect failed: TLS handshake failed:") && plain.contains("wrong version number"), "\(plain)")
            let started = Date()
            #expect(try curl(["\(gw.baseURL)/silent"]).status == 504)
            #expect(Date().timeIntervalSince(started) < 3)
            #expect(try await gw.accessLogLine(path: "/silent")["error"] as? String == "upstream connect timeout")
        }
    }

    @Test("min_version 1.3 against a TLS 1.2-only backend: 502 with the reason")
    func versionRefused() async throws {
        let pki = try UpstreamPKI()
        defer { pki.remove() }
        let server = try OpenSSLTestServer(pki: pki, connections: 2)
        defer { server.stop() }
        try await withGateway(backends: 0, workers: 1,
                              Self.config(port: server.port, tls: "{ ca: \"\(pki.path("ca.pem"))\", sni: api.internal, min_version: \"1.3\" }")) { gw in
            #expect(try curl(["\(gw.baseURL)/v13"]).status == 502)
            let line = try await gw.accessLogLine(path: "/v13")
            let error = try #require(line["error"] as? String)
            #expect(error.contains("upstream connect failed: TLS handshake failed:") && error.contains("protocol version"), "\(error)")
        }
    }
}

@Suite("TLS to upstreams: config")
struct UpstreamTLSConfigTests {
    /// A config whose one cluster has `tls` (nil: none) and the keys of `clusterExtra` (one line).
    static func parse(_ tls: String?, clusterExtra: String = "") throws(ConfigErrors) -> GatewayConfig {
        try ConfigLoader.parse(yaml: """
            listeners:
              - name: l
                address: 127.0.0.1:0
                routes: [ { match: { path_prefix: / }, cluster: c } ]
            clusters:
              - name: c
                endpoints: [ { address: 127.0.0.1:9 } ]
                \(tls.map { "tls: \($0)" } ?? "")
                \(clusterExtra)
            """, file: "up.yaml")
    }

    static func errors(_ tls: String, clusterExtra: String = "") -> [ConfigError] {
        do {
            _ = try parse(tls, clusterExtra: clusterExtra)
            return []
        } catch {
            return error.errors
        }
    }

    @Test("a missing CA file names file, line and key")
    func missingCA() {
        let errors = Self.errors("{ ca: /nonexistent/ca.pem }")
        #expect(errors.count == 1)
        #expect(errors.first?.file == "up.yaml")
        #expect(errors.first?.line == 8)
        #expect(errors.first?.keyPath == "clusters[0].tls.ca")
        #expect(errors.first?.message.contains("/nonexistent/ca.pem") == true)
    }

    @Test("a client certificate file without a certificate is refused at its key, a missing key file at its own")
    func badClientCertificate() throws {
        let pki = try UpstreamPKI()
        defer { pki.remove() }
        // The CA's key is not a certificate: OpenSSL refuses it when the context is built.
        let errors = Self.errors("{ client_certificate: { cert: \"\(pki.path("ca.key"))\", key: \"\(pki.path("client.key"))\" } }")
        #expect(errors.count == 1)
        #expect(errors.first?.keyPath == "clusters[0].tls.client_certificate")
        #expect(errors.first?.message.contains("cannot load certificate chain") == true)
        let missing = Self.errors("{ client_certificate: { cert: \"\(pki.path("client.pem"))\", key: /nope.key } }")
        #expect(missing.first?.keyPath == "clusters[0].tls.client_certificate.key")
        let mismatched = Self.errors("{ client_certificate: { cert: \"\(pki.path("client.pem"))\", key: \"\(pki.path("server.key"))\" } }")
        #expect(mismatched.first?.keyPath == "clusters[0].tls.client_certificate")
        #expect(mismatched.first?.message.contains("server.key") == true, "\(mismatched)")
    }

    @Test("unknown keys, versions and ALPN protocols, an IP as sni, and ca with verify: false are refused")
    func invalidValues() {
        #expect(Self.errors("{ min_version: \"1.1\" }").first?.keyPath == "clusters[0].tls.min_version")
        #expect(Self.errors("{ alpn: [h3] }").first?.keyPath == "clusters[0].tls.alpn[0]")
        #expect(Self.errors("{ sni: 10.0.0.1 }").first?.keyPath == "clusters[0].tls.sni")
        #expect(Self.errors("{ verify: false, ca: /etc/hosts }").first?.keyPath == "clusters[0].tls.ca")
        #expect(Self.errors("{ ciphers: NOT-A-CIPHER }").first?.keyPath == "clusters[0].tls.ciphers")
        #expect(Self.errors("{ cert: x }").first?.message.contains("cert") == true)
    }

    @Test("defaults: the system store, verification on, TLS 1.2 minimum, resumption on; the effective config shows them")
    func defaults() throws {
        let config = try Self.parse("{ sni: API.Internal, alpn: [http/1.1] }")
        let tls = try #require(config.clusters[0].options.tls?.configuration)
        #expect(tls.caFile == nil)
        #expect(tls.verify)
        #expect(tls.serverName == "api.internal")
        #expect(tls.minimumVersion == .v1_2)
        #expect(tls.sessionResumption)
        #expect(tls.alpn == ["http/1.1"])
        let printed = EffectiveConfigPrinter.yaml(config)
        #expect(printed.contains("tls: { verify: true, sni: \"api.internal\", min_version: \"1.2\", alpn: [\"http/1.1\"], session_resumption: true }"), "\(printed)")
    }
}
