import Foundation
import LuaFilters
import NIOConcurrencyHelpers

/// Lua scripts written to a fresh temporary folder (with a `lib/` for `require`), so each test owns its
/// files (and can rewrite them for reload tests).
final class LuaScripts: Sendable {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "portcullis-lua-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` (replacing the file atomically, as an editor's save does) and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        let temporary = path + ".tmp-\(UUID().uuidString)"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else { throw TestFailure("rename failed") }
        return path
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The Lua filter's log lines (script errors, gw.log), captured for the whole test process. Tests run in
/// parallel, so each one looks only at lines naming its own script path or request id.
enum LuaLogLines {
    private static let lines = NIOLockedValueBox<[String]>([])
    private static let installed: Void = {
        LuaLog.setObserver { line in lines.withLockedValue { $0.append(line) } }
    }()

    static func start() { _ = installed }

    static func matching(_ text: String) -> [String] {
        lines.withLockedValue { $0.filter { $0.contains(text) } }
    }

    /// Waits (bounded) for a line containing every string in `texts`.
    static func waitFor(_ texts: [String], within seconds: Double = 5) async throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = lines.withLockedValue({ $0.first { line in texts.allSatisfy { line.contains($0) } } }) { return line }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no Lua log line containing \(texts)")
    }
}

/// One listener (HTTP/1.1 and h2c with prior knowledge on one port) with the given Lua filters on `/`,
/// clusters `backend` (echo-0) and `beta` (echo-1).
func luaConfig(_ filters: String, accessLog: String = "", routeExtra: String = "") -> String {
    """
    workers: 2
    \(accessLog)
    listeners:
      - name: test
        address: 127.0.0.1:0
        http2: { cleartext: true }
        routes:
          - match: { path_prefix: / }
            cluster: backend
            \(routeExtra)
            filters: \(filters)
    clusters:
      - name: backend
        endpoints: [ { address: "{{echo0}}" } ]
      - name: beta
        endpoints: [ { address: "{{echo1}}" } ]
    """
}

/// curl over HTTP/1.1, or HTTP/2 with prior knowledge.
func curl(h2: Bool, _ arguments: [String]) throws -> CurlResult {
    try curl((h2 ? ["--http2-prior-knowledge"] : ["--http1.1"]) + arguments)
}

/// Runs a test body against a gateway whose Lua scripts live in a fresh folder; removes both after.
func withLuaGateway(backends: Int = 2, _ scripts: LuaScripts, _ yaml: String, _ body: (TestGateway) async throws -> Void) async throws {
    LuaLogLines.start()
    defer { scripts.remove() }
    try await withGateway(backends: backends, yaml, body)
}

extension CurlResult {
    /// The gateway answered before reading the whole request body. Over HTTP/2 it then ends the stream with
    /// RST_STREAM(NO_ERROR) (RFC 9113 §8.1), which curl 7.88 sometimes reports as error 92 instead of
    /// showing the response it already has.
    func isEarlyReply(_ expected: Int) -> Bool {
        status == expected || (status == 0 && exitCode == 92)
    }
}
