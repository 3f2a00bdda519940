import Foundation
import Testing

@Suite("TLS session tickets")
struct SessionTicketTests {
    /// Connects with a saved session (if any) and saves the new one; returns "Reused" or "New".
    static func handshake(port: Int, sessionFile: String, resume: Bool) throws -> String {
        let input = resume ? "-sess_in '\(sessionFile)'" : ""
        let output = try shell("echo | timeout 10 openssl s_client -connect 127.0.0.1:\(port) -tls1_2 \(input) -sess_out '\(sessionFile)' 2>/dev/null | grep -E '^(New|Reused),'")
        return output.stdout.hasPrefix("Reused") ? "Reused" : (output.stdout.hasPrefix("New") ? "New" : "failed: \(output.stdout)")
    }

    @Test("a ticket resumes after one key rotation and after a certificate reload, but not once its key is retired")
    func rotation() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let session = certs.folder + "/session.pem"
        try await withGateway(TLSTests.config(certs, names: ["a.test"])) { gw in
            let port = gw.port()
            let keys = try #require(gw.server.runtime.listeners[0].tls).ticketKeys
            #expect(try Self.handshake(port: port, sessionFile: session, resume: false) == "New")
            #expect(try Self.handshake(port: port, sessionFile: session, resume: true) == "Reused")
            // One rotation: the ticket's key still decrypts (and the ticket is renewed under the new key).
            keys.rotate()
            #expect(try Self.handshake(port: port, sessionFile: session, resume: true) == "Reused")
            // A forced certificate reload builds new SSL contexts; the keys carry over.
            gw.server.reloadCertificates(force: true)
            #expect(try Self.handshake(port: port, sessionFile: session, resume: true) == "Reused")
            // Three more rotations retire the key of the saved (renewed) ticket: a full handshake.
            keys.rotate(); keys.rotate(); keys.rotate()
            #expect(try Self.handshake(port: port, sessionFile: session, resume: true) == "New")
        }
    }

    @Test("every TLS 1.3 resumption brings a fresh ticket, so an OpenSSL client (one use per ticket) resumes again and again")
    func ticketPerResumption() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(TLSTests.config(certs, names: ["a.test"])) { gw in
            var outcomes: [String] = []
            for round in 0..<4 {
                let input = round == 0 ? "" : "-sess_in '\(certs.folder)/s\(round - 1).pem'"
                // The client waits a moment before closing: TLS 1.3 tickets come after the handshake.
                let output = try await offPool {
                    try shell("(sleep 0.3) | timeout 10 openssl s_client -connect 127.0.0.1:\(gw.port()) -tls1_3 \(input) -sess_out '\(certs.folder)/s\(round).pem' 2>/dev/null | grep -E '^(New|Reused),'")
                }
                outcomes.append(String(output.stdout.prefix { $0 != "," }))
            }
            // Before: the second resumption had no ticket to offer and was a full handshake again.
            #expect(outcomes == ["New", "Reused", "Reused", "Reused"])
        }
    }

    @Test("a TLS 1.3 client that sends its request with the handshake's end gets the ticket with the response, and resumes")
    func ticketWithFirstResponse() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        try await withGateway(TLSTests.config(certs, names: ["a.test"])) { gw in
            var outcomes: [String] = []
            for round in 0..<3 {
                let input = round == 0 ? "" : "-sess_in '\(certs.folder)/r\(round - 1).pem'"
                // The request goes out right after the handshake and s_client reads until the server closes:
                // the ticket (held back to leave with the response) must reach it before the close.
                let output = try await offPool {
                    try shell("printf 'GET /t HTTP/1.1\\r\\nHost: a.test\\r\\nConnection: close\\r\\n\\r\\n' | timeout 10 openssl s_client -connect 127.0.0.1:\(gw.port()) -tls1_3 -ign_eof \(input) -sess_out '\(certs.folder)/r\(round).pem' 2>/dev/null")
                }
                #expect(output.stdout.contains("HTTP/1.1 200"))
                let line = output.stdout.split(separator: "\n").first { $0.hasPrefix("New,") || $0.hasPrefix("Reused,") }
                outcomes.append(line.map { String($0.prefix { $0 != "," }) } ?? "failed")
            }
            #expect(outcomes == ["New", "Reused", "Reused"])
        }
    }

    @Test("two gateways sharing a ticket key file resume each other's sessions")
    func sharedKeyFile() async throws {
        let certs = try TestCertificates(names: ["a.test"])
        defer { certs.remove() }
        let keyFile = certs.folder + "/ticket.key"
        _ = try shell("openssl rand 80 > '\(keyFile)'")
        let session = certs.folder + "/session.pem"
        let yaml = simpleConfig(listenerExtra: "tls:\n  certificates: [\(certs.yaml("a.test"))]\n  session_ticket_keys: [\"\(keyFile)\"]")
        let first = try await TestGateway.start(yaml)
        let second = try await TestGateway.start(yaml)
        let unshared = try await TestGateway.start(TLSTests.config(certs, names: ["a.test"]))
        let issued = try Self.handshake(port: first.port(), sessionFile: session, resume: false)
        let onSecond = try Self.handshake(port: second.port(), sessionFile: session, resume: true)
        // Without the shared file, another instance cannot resume.
        let onUnshared = try Self.handshake(port: unshared.port(), sessionFile: session, resume: true)
        for gateway in [first, second, unshared] { await gateway.stop() }
        #expect(issued == "New")
        #expect(onSecond == "Reused")
        #expect(onUnshared == "New")
    }
}
