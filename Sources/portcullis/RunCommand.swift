import ArgumentParser
import Edge
import GatewayCore
import GatewayTLS
import Logging
import NIOCore
import NIOPosix
import Upstream

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the gateway.")

    @Option(name: .shortAndLong, help: "The YAML config file.")
    var config: String

    @Option(help: "Event loops (overrides `workers` in the config; 0 = one per core).")
    var workers: Int?

    func run() async throws {
        Diagnostics.bootstrap()
        let logger = Logger(label: "portcullis")
        let loaded = try ConfigLoading.loadOrExit(config)
        let runtime = try ConfigLoading.runtimeOrExit(loaded)
        let threads = Self.threadCount(workers ?? loaded.workers)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let sink = StdoutSink()
        let server: GatewayServer
        do {
            server = try await GatewayServer.start(runtime: runtime, group: group, sink: sink, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode(1)
        }
        logger.info("portcullis started", metadata: [
            "version": "\(PortcullisVersion.string)", "workers": "\(threads)", "config": "\(config)",
            "openssl": "\(OpenSSLLibrary.version)", "nghttp2": "\(NGHTTP2Library.version)",
        ])
        let drain = runtime.config.drain
        let reloader = ConfigReloader(path: config, server: server, logger: logger)
        var admin: AdminServer?
        if let adminConfig = runtime.config.admin {
            do {
                admin = try await AdminServer.start(address: adminConfig.address, gateway: server, group: group,
                                                    onReload: { await reloader.reload(reason: "POST /reload") }) {
                    // POST /drain: the same drain as SIGTERM, but the process stays (with its admin listener).
                    Task { _ = await server.drain(timeout: .milliseconds(drain.timeout.milliseconds ?? 0)) }
                }
                logger.info("admin listening", metadata: ["address": "\(adminConfig.address)"])
            } catch {
                logger.critical("admin listener cannot listen on \(adminConfig.address): \(error)")
                throw ExitCode(1)
            }
        }
        // Certificates reload when their files change, and on SIGHUP.
        let watcher = server.watchCertificates(every: .seconds(2))
        server.startTicketKeyRotation()
        // SIGHUP reloads the whole config (which re-reads every certificate); the file is also watched.
        let reloadSignal = ReloadSignal { Task { await reloader.reload(reason: "SIGHUP") } }
        let configWatch = group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            Task { await reloader.reloadIfChanged() }
        }
        let signal = await ShutdownSignal.wait()
        watcher.cancel()
        configWatch.cancel()
        server.stopTicketKeyRotation()
        reloadSignal.cancel()
        logger.info("draining", metadata: ["signal": "\(signal)", "delay": "\(drain.delay)", "timeout": "\(drain.timeout)"])
        // /ready fails now; traffic is still served during the delay, so the L4 tier can notice first.
        server.markDraining()
        if let delay = drain.delay.milliseconds { try? await Task.sleep(for: .milliseconds(delay)) }
        let left = await server.drain(timeout: .milliseconds(drain.timeout.milliseconds ?? 0))
        logger.info("shut down", metadata: ["connections_cut": "\(left)"])
        await admin?.close()
        try? await group.shutdownGracefully()
        sink.shutdown()
    }

    static func threadCount(_ configured: Int) -> Int {
        configured > 0 ? configured : System.coreCount
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Validate a config and print it with defaults filled in.")

    @Option(name: .shortAndLong, help: "The YAML config file.")
    var config: String

    func run() throws {
        Diagnostics.bootstrap()
        let loaded = try ConfigLoading.loadOrExit(config)
        _ = try ConfigLoading.runtimeOrExit(loaded)
        print(EffectiveConfigPrinter.yaml(loaded), terminator: "")
        printError("\(config): configuration ok")
    }
}

/// Config errors go to stderr, one per line, and the process exits with status 2.
enum ConfigLoading {
    static func loadOrExit(_ path: String) throws -> GatewayConfig {
        let filters = try BuiltinFilters.registry()
        do {
            return try ConfigLoader.load(file: path, filters: filters)
        } catch {
            for problem in error.errors { printError("config error: \(problem)") }
            throw ExitCode(2)
        }
    }

    static func runtimeOrExit(_ config: GatewayConfig) throws -> GatewayRuntime {
        do {
            return try GatewayRuntime(config: config)
        } catch {
            for problem in error.errors { printError("config error: \(problem)") }
            throw ExitCode(2)
        }
    }
}
