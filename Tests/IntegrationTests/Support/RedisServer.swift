import Foundation

/// A real `redis-server` on a free loopback port, without persistence, for the tests of the global rate
/// limit. `stop()` kills it; `start()` again brings it back on the same port (a Redis restart).
final class RedisServer: @unchecked Sendable {
    let port: Int
    private var process: Process?

    init() throws {
        port = try TestGateway.closedPort()
        try start()
    }

    var address: String { "127.0.0.1:\(port)" }

    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--protected-mode", "no", "--loglevel", "warning"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        // Ready when it answers PING (bounded).
        let deadline = Date().addingTimeInterval(10)
        while (try? cli(["PING"]))?.trimmingCharacters(in: .whitespacesAndNewlines) != "PONG" {
            guard Date() < deadline else { throw TestFailure("redis-server on \(port) did not start") }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Stops the server and waits until it is gone.
    func stop() {
        guard let process else { return }
        // SIGKILL: the child inherits the test runner's blocked signals, SIGTERM included, so a plain
        // terminate() would leave it running (and waitUntilExit() spinning).
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Runs `redis-cli` against this server; returns its output.
    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        let output = try run("/usr/bin/env", ["redis-cli", "-h", "127.0.0.1", "-p", String(port)] + arguments)
        guard output.exitCode == 0 else { throw TestFailure("redis-cli \(arguments): \(output.stderr)") }
        return output.stdout
    }

    deinit { stop() }
}
