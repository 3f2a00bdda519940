import EchoBackend
import Edge
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOPosix

/// A real gateway on 127.0.0.1:0 in front of real echo backends, configured by inline YAML, with its
/// access log captured to a file. Tests talk to it over real sockets.
///
/// In the YAML, `{{echo0}}`, `{{echo1}}`... expand to the backends' `127.0.0.1:port`, and
/// `{{closed}}` to a loopback port nothing listens on, `{{reset}}` to a backend that resets every
/// connection once a request arrives.
final class TestGateway: Sendable {
    let group: MultiThreadedEventLoopGroup
    let server: GatewayServer
    let echoes: [EchoServerHandle]
    let sink: StdoutSink
    let accessLogPath: String
    let admin: AdminServer?
    /// Backends besides the echoes (`{{reset}}`), closed at stop.
    let otherBackends: [Channel]

    /// The admin listener's port (the config must have `admin:`).
    var adminPort: Int { admin!.port }

    static func start(backends: Int = 1, workers: Int = 2, filters: FilterRegistry = .testing, _ yaml: String) async throws -> TestGateway {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: workers)
        var echoes: [EchoServerHandle] = []
        for index in 0..<backends {
            echoes.append(try await EchoServer.start(host: "127.0.0.1", port: 0, name: "echo-\(index)", group: group))
        }
        var text = yaml
        for (index, echo) in echoes.enumerated() {
            text = text.replacingOccurrences(of: "{{echo\(index)}}", with: "127.0.0.1:\(echo.port)")
        }
        text = text.replacingOccurrences(of: "{{closed}}", with: "127.0.0.1:\(try closedPort())")
        var others: [Channel] = []
        if text.contains("{{reset}}") {
            let reset = try await ResetServer.start(group: group)
            others.append(reset)
            text = text.replacingOccurrences(of: "{{reset}}", with: "127.0.0.1:\(reset.localAddress!.port!)")
        }
        let config = try ConfigLoader.parse(yaml: text, file: "inline.yaml", filters: filters)
        let runtime = try GatewayRuntime(config: config)
        let path = NSTemporaryDirectory() + "portcullis-access-\(UUID().uuidString).log"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        let sink = StdoutSink(fileDescriptor: fd)
        let server = try await GatewayServer.start(runtime: runtime, group: group, sink: sink, logger: Logger(label: "test"))
        var admin: AdminServer?
        if let address = config.admin?.address {
            let timeout = config.drain.timeout.milliseconds ?? 0
            admin = try await AdminServer.start(address: address, gateway: server, group: group) {
                Task { _ = await server.drain(timeout: .milliseconds(timeout)) }
            }
        }
        return TestGateway(group: group, server: server, echoes: echoes, sink: sink, accessLogPath: path, admin: admin, otherBackends: others)
    }

    private init(group: MultiThreadedEventLoopGroup, server: GatewayServer, echoes: [EchoServerHandle], sink: StdoutSink, accessLogPath: String,
                 admin: AdminServer?, otherBackends: [Channel]) {
        self.admin = admin
        self.otherBackends = otherBackends
        self.group = group
        self.server = server
        self.echoes = echoes
        self.sink = sink
        self.accessLogPath = accessLogPath
    }

    /// The port of the first (or the named) listener.
    func port(_ listener: String? = nil) -> Int {
        let name = listener ?? server.runtime.listeners[0].name
        return server.boundAddresses[name]!.port!
    }

    var baseURL: String { "http://127.0.0.1:\(port())" }

    /// Access-log lines as JSON objects, waiting (bounded) until at least `count` are there.
    func accessLog(atLeast count: Int, within seconds: Double = 15) async throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let text = (try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n")
            if lines.count >= count || Date() > deadline {
                return try lines.map { line in
                    guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                        throw TestFailure("access-log line is not a JSON object: \(line)")
                    }
                    return object
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The single access-log line for a path (waits for it).
    func accessLogLine(path: String, within seconds: Double = 15) async throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let line = try await accessLog(atLeast: 0, within: 0).first(where: { $0["path"] as? String == path }) { return line }
            // Looked at once more after the deadline: a test whose task was kept waiting past it (other tests'
            // blocking calls hold the few concurrency threads) must not fail for a line that is there.
            guard Date() < deadline else { throw TestFailure("no access-log line for \(path)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Puts a new inline config in force (same placeholders and filters as `start`).
    func reload(_ yaml: String, filters: FilterRegistry = .testing) async throws {
        var text = yaml
        for (index, echo) in echoes.enumerated() {
            text = text.replacingOccurrences(of: "{{echo\(index)}}", with: "127.0.0.1:\(echo.port)")
        }
        let config = try ConfigLoader.parse(yaml: text, file: "inline.yaml", filters: filters)
        try await server.reload(try GatewayRuntime(config: config, previous: server.runtime))
    }

    func stop() async {
        await admin?.close()
        await server.stopListening()
        for echo in echoes { try? await echo.channel.close() }
        for backend in otherBackends { try? await backend.close() }
        try? await group.shutdownGracefully()
        sink.shutdown()
        try? FileManager.default.removeItem(atPath: accessLogPath)
    }

    /// A loopback port that was just free: connecting to it is refused.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs a test body against a gateway and always stops it.
func withGateway(backends: Int = 1, workers: Int = 2, _ yaml: String, _ body: (TestGateway) async throws -> Void) async throws {
    let gateway = try await TestGateway.start(backends: backends, workers: workers, yaml)
    do {
        try await body(gateway)
    } catch {
        await gateway.stop()
        throw error
    }
    await gateway.stop()
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The simplest config: one listener, one route, one cluster of the given endpoints.
func simpleConfig(endpoints: [String] = ["{{echo0}}"], listenerExtra: String = "", routeExtra: String = "", clusterExtra: String = "", workers: Int = 2) -> String {
    """
    workers: \(workers)
    listeners:
      - name: test
        address: 127.0.0.1:0
    \(listenerExtra.isEmpty ? "" : listenerExtra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        routes:
          - match: { path_prefix: / }
            cluster: backend
    \(routeExtra.isEmpty ? "" : routeExtra.split(separator: "\n").map { "        " + $0 }.joined(separator: "\n"))
    clusters:
      - name: backend
        endpoints: [\(endpoints.map { "{ address: \"\($0)\" }" }.joined(separator: ", "))]
    \(clusterExtra.isEmpty ? "" : clusterExtra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
    """
}
