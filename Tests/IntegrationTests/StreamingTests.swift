import Foundation
import Testing

/// Large bodies stream through in bounded memory: the gateway holds a window, never the body.
@Suite("Streaming large bodies", .serialized)
struct StreamingTests {
    static func residentMegabytes() -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
    }

    @Test("a 1 GiB download passes through with bounded memory")
    func largeDownload() async throws {
        try await withGateway(simpleConfig()) { gw in
            let before = Self.residentMegabytes()
            let bytes = 1 << 30
            let result = try shell("curl -sS --max-time 120 -o /dev/null -w '%{http_code} %{size_download}' '\(gw.baseURL)/big?bytes=\(bytes)&chunked=1'")
            #expect(result.stdout == "200 \(bytes)")
            let grown = Self.residentMegabytes() - before
            #expect(grown < 150, "resident memory grew by \(grown) MB")
        }
    }

    @Test("a 1 GiB chunked upload passes through with bounded memory")
    func largeUpload() async throws {
        try await withGateway(simpleConfig()) { gw in
            let before = Self.residentMegabytes()
            let bytes = 1 << 30
            let result = try shell("head -c \(bytes) /dev/zero | curl -sS --max-time 120 -T - -H 'Expect:' '\(gw.baseURL)/upload'")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect(json?["body_bytes"] as? Int == bytes)
            let grown = Self.residentMegabytes() - before
            #expect(grown < 150, "resident memory grew by \(grown) MB")
        }
    }

    @Test("a 100 MB Content-Length upload with Expect: 100-continue passes through")
    func uploadWithExpectContinue() async throws {
        try await withGateway(simpleConfig()) { gw in
            let path = NSTemporaryDirectory() + "upload-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: path) }
            _ = try shell("head -c 100000000 /dev/zero > \(path)")
            let result = try shell("curl -sS --max-time 60 -T \(path) '\(gw.baseURL)/upload100'")
            let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            #expect(json?["body_bytes"] as? Int == 100_000_000)
        }
    }
}
