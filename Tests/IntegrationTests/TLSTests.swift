import Foundation
import Testing

/// Throwaway certificates made with the openssl command line for one test run.
struct TestCertificates {
    let folder: String

    init(names: [String]) throws {
        folder = NSTemporaryDirectory() + "portcullis-certs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in names {
            let file = name.replacingOccurrences(of: "*", with: "wildcard")
            let result = try shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=\(name)' -addext 'subjectAltName=DNS:\(name)' -keyout '\(folder)/\(file).key' -out '\(folder)/\(file).pem' 2>&1")
            guard result.exitCode == 0 else { throw TestFailure("openssl failed: \(result.stdout)") }
        }
    }

    func yaml(_ name: String) -> String {
        let file = name.replacingOccurrences(of: "*", with: "wildcard")
        return "{ cert: \"\(folder)/\(file).pem\", key: \"\(folder)/\(file).key\" }"
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

@Suite("TLS termination")
struct TLSTests {
    static func config(_ certs: TestCertificates, names: [String]) -> String {
        simpleConfig(listenerExtra: "tls:\n  certificates: [\(names.map(certs.yaml).joined(separator: ", "))]")
    }

    /// The certificate subject openssl s_client sees for a server name.
    static func subject(port: Int, serverName: String?) throws -> String {
        let sni = serverName.map { "-servername \($0)" } ?? "-noservername"
        let output = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) \(sni) 2>/dev/null | grep '^subject='")
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("HTTPS requests are proxied, with X-Forwarded-Proto https")
    func httpsProxying() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(Self.config(certs, names: ["a.test"])) { gw in
            let result = try curl(["-k", "https://127.0.0.1:\(gw.port())/secure"])
            #expect(result.status == 200)
            let headers = try #require(result.json["headers"] as? [String: String])
            #expect(headers["x-forwarded-proto"] == "https")
            let big = try shell("curl -sk -o /dev/null -w '%{http_code} %{size_download}' 'https://127.0.0.1:\(gw.port())/?bytes=5000000'")
            #expect(big.stdout == "200 5000000")
            let upload = try shell("head -c 3000000 /dev/zero | curl -sk -T - -H 'Expect:' 'https://127.0.0.1:\(gw.port())/up'")
            #expect(upload.stdout.contains("\"body_bytes\":3000000"))
        }
    }

    @Test("SNI picks the certificate: exact name, wildcard, else the first", arguments: [
        ("b.test", "b.test"), ("B.Test", "b.test"), ("x.apps.test", "*.apps.test"), ("X.Apps.TEST", "*.apps.test"), ("nope.test", "a.test"), (nil, "a.test"),
    ] as [(String?, String)])
    func sniSelection(serverName: String?, expected: String) async throws {
        let names = ["a.test", "b.test", "*.apps.test"]
        let certs = try TestCertificates(names: names)
        defer { certs.remove() }
        try await withGateway(Self.config(certs, names: names)) { gw in
            let subject = try Self.subject(port: gw.port(), serverName: serverName)
            #expect(subject == "subject=CN = \(expected)")
        }
    }

    @Test("ALPN selects http/1.1; an unknown protocol gets no ALPN and still HTTP/1.1")
    func alpn() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(Self.config(certs, names: ["a.test"])) { gw in
            let offered = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(gw.port()) -alpn http/1.1 2>/dev/null | grep 'ALPN'")
            #expect(offered.stdout.contains("ALPN protocol: http/1.1"))
            let other = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(gw.port()) -alpn spdy/3 2>/dev/null | grep 'ALPN'")
            #expect(other.stdout.contains("No ALPN negotiated"))
        }
    }

    @Test("a plaintext client on a TLS listener is closed without reaching the backend")
    func plaintextOnTLS() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(Self.config(certs, names: ["a.test"])) { gw in
            let client = try RawClient(port: gw.port())
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let (_, closed) = client.readUntilClose()
            #expect(closed)
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }

    @Test("TLS behind the PROXY protocol: the header comes first, then the handshake")
    func proxyProtocolThenTLS() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let yaml = simpleConfig(listenerExtra: "proxy_protocol: v1\ntls:\n  certificates: [\(certs.yaml("a.test"))]")
        try await withGateway(yaml) { gw in
            // curl sends the PROXY v1 header itself with --haproxy-protocol.
            let result = try curl(["-k", "--haproxy-protocol", "https://127.0.0.1:\(gw.port())/pp-tls"])
            #expect(result.status == 200)
            let line = try await gw.accessLogLine(path: "/pp-tls")
            #expect(line["downstream_l4_addr"] is String)
        }
    }

    @Test("a certificate file that does not exist is a config error naming the key")
    func missingCertificate() throws {
        let yaml = simpleConfig(endpoints: ["127.0.0.1:1"], listenerExtra: "tls:\n  certificates: [ { cert: /nonexistent.pem, key: /nonexistent.key } ]")
        do {
            _ = try TestGatewayConfig.parse(yaml)
            Issue.record("expected a config error")
        } catch {
            #expect(error.errors.contains { $0.keyPath == "listeners[0].tls.certificates[0].cert" && $0.message.contains("cannot read '/nonexistent.pem'") })
        }
    }
}

import GatewayCore

enum TestGatewayConfig {
    static func parse(_ yaml: String) throws(ConfigErrors) -> GatewayConfig {
        try ConfigLoader.parse(yaml: yaml, file: "inline.yaml")
    }
}

@Suite("TLS policy")
struct TLSPolicyTests {
    @Test("TLS 1.0/1.1 and CBC-SHA1 suites are refused; GCM over TLS 1.2 works; sessions resume")
    func defaults() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(TLSTests.config(certs, names: ["a.test"])) { gw in
            let port = gw.port()
            let old = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' 2>&1")
            #expect(old.stdout.contains("Cipher is (NONE)") && !old.stdout.contains("New, TLSv1.1"))
            let cbc = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA 2>/dev/null | grep '^New,' || true")
            #expect(!cbc.stdout.contains("AES128-SHA"))
            let gcm = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 2>/dev/null | grep '^New,'")
            #expect(gcm.stdout.contains("ECDHE-ECDSA-AES128-GCM-SHA256"))
            let resumed = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_2 -reconnect 2>/dev/null | grep -c '^Reused,'")
            #expect((Int(resumed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 5)
        }
    }

    @Test("TLS 1.3 picks AES-128-GCM first (cheaper handshake hashing than AES-256-GCM-SHA384); a client that puts ChaCha20 first gets it")
    func tls13Suites() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(TLSTests.config(certs, names: ["a.test"])) { gw in
            let port = gw.port()
            // OpenSSL's client offers AES-256-GCM-SHA384 first; the server's order decides.
            let plain = try await offPool { try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_3 2>/dev/null | grep '^New,'") }
            #expect(plain.stdout.contains("TLS_AES_128_GCM_SHA256"))
            let chacha = try await offPool {
                try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256 2>/dev/null | grep '^New,'")
            }
            #expect(chacha.stdout.contains("TLS_CHACHA20_POLY1305_SHA256"))
            let only256 = try await offPool {
                try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 2>/dev/null | grep '^New,'")
            }
            #expect(only256.stdout.contains("TLS_AES_256_GCM_SHA384"))
        }
    }
}

@Suite("Certificate reload")
struct CertificateReloadTests {
    @Test("changed certificate files are served to new connections; an open connection carries on")
    func reloadKeepsConnections() async throws {
        let certs = try TestCertificates(names: ["a.test", "b.test"])
        defer { certs.remove() }
        // The listener serves "live.pem", which starts as a.test's certificate.
        _ = try shell("cp '\(certs.folder)/a.test.pem' '\(certs.folder)/live.pem' && cp '\(certs.folder)/a.test.key' '\(certs.folder)/live.key'")
        let yaml = simpleConfig(listenerExtra: "tls:\n  certificates: [ { cert: \"\(certs.folder)/live.pem\", key: \"\(certs.folder)/live.key\" } ]")
        try await withGateway(yaml) { gw in
            let port = gw.port()
            #expect(try TLSTests.subject(port: port, serverName: nil) == "subject=CN = a.test")
            // One keep-alive TLS connection sends a request, waits across the reload, then sends another.
            let request = "GET /keep HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            // The second request asks to close, so s_client ends as soon as it is answered.
            let last = "GET /keep HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n"
            process.arguments = ["-c", "(printf '\(request)'; sleep 1.5; printf '\(last)'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -quiet -ign_eof 2>/dev/null"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            try await Task.sleep(for: .milliseconds(500))
            _ = try shell("cp '\(certs.folder)/b.test.pem' '\(certs.folder)/live.pem' && cp '\(certs.folder)/b.test.key' '\(certs.folder)/live.key'")
            gw.server.reloadCertificates(force: false)
            #expect(try TLSTests.subject(port: port, serverName: nil) == "subject=CN = b.test")
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(text.components(separatedBy: "HTTP/1.1 200").count - 1 == 2, "the open connection was dropped: \(text.prefix(200))")
        }
    }

    @Test("a reload with a key that does not match keeps the previous certificate")
    func failedReloadKeepsOld() async throws {
        let certs = try TestCertificates(names: ["a.test", "b.test"])
        defer { certs.remove() }
        _ = try shell("cp '\(certs.folder)/a.test.pem' '\(certs.folder)/live.pem' && cp '\(certs.folder)/a.test.key' '\(certs.folder)/live.key'")
        let yaml = simpleConfig(listenerExtra: "tls:\n  certificates: [ { cert: \"\(certs.folder)/live.pem\", key: \"\(certs.folder)/live.key\" } ]")
        try await withGateway(yaml) { gw in
            _ = try shell("cp '\(certs.folder)/b.test.pem' '\(certs.folder)/live.pem'")
            gw.server.reloadCertificates(force: true)
            #expect(try TLSTests.subject(port: gw.port(), serverName: nil) == "subject=CN = a.test")
            #expect(try curl(["-k", "https://127.0.0.1:\(gw.port())/"]).status == 200)
        }
    }
}

@Suite("Client certificates (mTLS)")
struct MutualTLSTests {
    /// A CA and a client certificate it signed, next to the server's own certificate.
    static func makeClientPKI(in folder: String) throws {
        let script = """
        cd '\(folder)' && \
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=Test Client CA' -keyout ca.key -out ca.pem && \
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/O=Portcullis Tests/CN=client.test' -keyout client.key -out client.csr && \
        printf 'subjectAltName=DNS:client.test,URI:spiffe://portcullis.test/client' > client.ext && \
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem
        """
        let result = try shell(script + " 2>&1")
        guard result.exitCode == 0 else { throw TestFailure("openssl failed: \(result.stdout)") }
    }

    static func config(_ certs: TestCertificates, auth: String) -> String {
        simpleConfig(listenerExtra: "tls:\n  certificates: [\(certs.yaml("a.test"))]\n  client_ca: \"\(certs.folder)/ca.pem\"\n  client_auth: \(auth)")
    }

    @Test("required: a client without a certificate is refused; one with a CA-signed certificate is served and logged")
    func required() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try Self.makeClientPKI(in: certs.folder)
        try await withGateway(Self.config(certs, auth: "required")) { gw in
            let refused = try curl(["-k", "https://127.0.0.1:\(gw.port())/anonymous"])
            #expect(refused.status == 0 && refused.exitCode != 0)
            let served = try curl(["-k", "--cert", "\(certs.folder)/client.pem", "--key", "\(certs.folder)/client.key", "https://127.0.0.1:\(gw.port())/mtls"])
            #expect(served.status == 200)
            let line = try await gw.accessLogLine(path: "/mtls")
            #expect(line["tls_client_subject"] as? String == "CN=client.test,O=Portcullis Tests")
            #expect(line["tls_client_san"] as? String == "DNS:client.test,URI:spiffe://portcullis.test/client")
            #expect(gw.echoes[0].stats.requests == 1)
            // The same over HTTP/2.
            let h2 = try shell("curl -sk --http2 --cert '\(certs.folder)/client.pem' --key '\(certs.folder)/client.key' -o /dev/null -w '%{http_version}' https://127.0.0.1:\(gw.port())/mtls-h2")
            #expect(h2.stdout == "2")
            let h2Line = try await gw.accessLogLine(path: "/mtls-h2")
            #expect(h2Line["tls_client_subject"] as? String == "CN=client.test,O=Portcullis Tests")
            #expect(h2Line["tls_client_san"] as? String == "DNS:client.test,URI:spiffe://portcullis.test/client")
        }
    }

    @Test("optional: clients without a certificate are served with no subject")
    func optional() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try Self.makeClientPKI(in: certs.folder)
        try await withGateway(Self.config(certs, auth: "optional")) { gw in
            #expect(try curl(["-k", "https://127.0.0.1:\(gw.port())/anon"]).status == 200)
            let line = try await gw.accessLogLine(path: "/anon")
            #expect(line["tls_client_subject"] is NSNull)
        }
    }

    @Test("a certificate from another CA is refused")
    func wrongCA() async throws {
        let certs = try TestCertificates(names: ["a.test", "other.test"])
        defer { certs.remove() }
        try Self.makeClientPKI(in: certs.folder)
        try await withGateway(Self.config(certs, auth: "optional")) { gw in
            let result = try curl(["-k", "--cert", "\(certs.folder)/other.test.pem", "--key", "\(certs.folder)/other.test.key", "https://127.0.0.1:\(gw.port())/x"])
            #expect(result.status == 0)
            #expect(gw.echoes[0].stats.requests == 0)
        }
    }
}
