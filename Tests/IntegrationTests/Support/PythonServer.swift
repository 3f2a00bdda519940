import Foundation

/// A test server written in Python (Debian's python3 with python3-h2 / python3-grpcio), started from
/// `Support/python/<script>`. The script prints `PORT <n>` once it listens and exits by itself after its
/// lifetime; `stop()` kills it by PID before that.
final class PythonServer: @unchecked Sendable {
    let port: Int
    private let process: Process
    private var stopped = false

    /// Debian's interpreter: the python3 packages the tests need are installed for it, not for any other
    /// python3 that may come first on PATH.
    static let interpreter = "/usr/bin/python3"

    init(script: String, arguments: [String] = []) throws {
        let path = packageRoot + "/Tests/IntegrationTests/Support/python/" + script
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.interpreter)
        process.arguments = [path] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // The first line is the port (bounded: the read times out through the process's own lifetime).
        var line = Data()
        let handle = out.fileHandleForReading
        let deadline = Date().addingTimeInterval(15)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let portText = text.split(separator: "\n").first?.split(separator: " ").last, let port = Int(portText), text.hasPrefix("PORT ") else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestFailure("\(script) did not start: \(text)")
        }
        self.port = port
    }

    var address: String { "127.0.0.1:\(port)" }

    func stop() {
        guard !stopped else { return }
        stopped = true
        // SIGKILL: the child inherits the test runner's blocked signals (see RedisServer).
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}
