import Foundation
import GatewayCore
import Testing

@Suite("Access-log formats and sampling")
struct AccessLogFormatTests {
    static func lines(_ gw: TestGateway, atLeast count: Int) async throws -> [String] {
        let deadline = Date().addingTimeInterval(15)
        while true {
            let text = (try? String(contentsOfFile: gw.accessLogPath, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").map(String.init)
            if lines.count >= count || Date() > deadline { return lines }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("format: text writes the template, with - for missing values and quotes escaped")
    func text() async throws {
        let yaml = "access_log: { format: text, text: '$downstream_addr \"$method $path $protocol\" $status $bytes_out ${upstream_cluster}/$error' }\n" + simpleConfig()
        try await withGateway(yaml) { gw in
            _ = try curl(["\(gw.baseURL)/a\"b"])
            let line = try #require(try await Self.lines(gw, atLeast: 1).first)
            #expect(line.hasPrefix("127.0.0.1:"))
            #expect(line.contains(" \"GET /a\\x22b HTTP/1.1\" 200 "), "\(line)")
            #expect(line.hasSuffix(" backend/-"), "\(line)")
        }
    }

    @Test("format: json with chosen fields writes only those, in that order")
    func chosenFields() async throws {
        try await withGateway("access_log: { fields: [status, path, request_id] }\n" + simpleConfig()) { gw in
            _ = try curl(["\(gw.baseURL)/chosen"])
            let line = try #require(try await Self.lines(gw, atLeast: 1).first)
            #expect(line.hasPrefix("{\"status\":200,\"path\":\"/chosen\",\"request_id\":\""), "\(line)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object.count == 3)
        }
    }

    @Test("sample_rate 0 drops successful requests but never errors")
    func sampling() async throws {
        try await withGateway("access_log: { sample_rate: 0 }\n" + simpleConfig()) { gw in
            for index in 0..<10 { _ = try curl(["\(gw.baseURL)/ok\(index)"]) }
            _ = try curl(["\(gw.baseURL)/bad?status=503"])
            _ = try curl(["\(gw.baseURL)/missing?status=404"])
            let lines = try await Self.lines(gw, atLeast: 2)
            #expect(lines.count == 2, "\(lines)")
            #expect(lines.allSatisfy { !$0.contains("/ok") })
        }
    }

    @Test("unknown fields and formats are config errors at their line")
    func errors() throws {
        let bad = "access_log: { format: text, text: '$status $nope' }\n" + simpleConfig()
        #expect(throws: (any Error).self) { try ConfigLoader.parse(yaml: bad, file: "inline.yaml") }
        do {
            _ = try ConfigLoader.parse(yaml: "access_log: { fields: [status, colour] }\n" + simpleConfig(), file: "inline.yaml")
            Issue.record("accepted an unknown field")
        } catch {
            #expect("\(error)".contains("inline.yaml:1:") && "\(error)".contains("colour"), "\(error)")
        }
    }
}
