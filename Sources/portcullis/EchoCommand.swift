import ArgumentParser
import CGatewayShims
import EchoBackend
import GatewayTLS
import Logging
import NIOCore
import NIOPosix
import Upstream

struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Run a small HTTP/1.1 origin that echoes requests as JSON (for demos, tests and benchmarks).",
        discussion: "Query parameters: status=N, delay_ms=N, bytes=N (with chunked=1), fail=reset|hang, header=name:value. GET /healthz answers 200.")

    @Option(help: "Port to listen on.")
    var port: Int

    @Option(help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(help: "Name reported in responses (x-echo-name and the JSON body).")
    var name: String = "echo"

    func run() async throws {
        Diagnostics.bootstrap()
        let logger = Logger(label: "portcullis.echo")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await EchoServer.start(host: host, port: port, name: name, group: group).channel
        logger.info("echo backend listening", metadata: ["name": "\(name)", "address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        _ = await ShutdownSignal.wait()
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print versions of Portcullis and the C libraries it links.")

    func run() {
        print("portcullis \(PortcullisVersion.string)")
        print("openssl \(OpenSSLLibrary.version)")
        print("nghttp2 \(NGHTTP2Library.version)")
        let lua = pc_lua_runtime_version()
        print("lua \(lua / 100).\(lua % 100)")
    }
}
