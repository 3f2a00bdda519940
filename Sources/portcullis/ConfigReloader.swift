import Edge
import GatewayCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Reloads the whole config (SIGHUP, `POST /reload`, or the file changing): validated first; an
/// invalid config is rejected with every error logged and the running one keeps serving. One reload
/// at a time.
actor ConfigReloader {
    private let path: String
    private let server: GatewayServer
    private let logger: Logger
    private var lastStamp: FileStamp?

    struct FileStamp: Equatable {
        var modified: Int
        var size: Int
    }

    init(path: String, server: GatewayServer, logger: Logger) {
        self.path = path
        self.server = server
        self.logger = logger
        self.lastStamp = Self.stamp(path)
    }

    /// Reloads now. Returns nil on success, else the reason (for `POST /reload`).
    @discardableResult
    func reload(reason: String) async -> String? {
        lastStamp = Self.stamp(path)
        let config: GatewayConfig
        do {
            config = try ConfigLoader.load(file: path, filters: try BuiltinFilters.registry())
        } catch let errors as ConfigErrors {
            for problem in errors.errors { logger.error("config reload rejected", metadata: ["error": "\(problem)", "trigger": "\(reason)"]) }
            return errors.errors.map { "\($0)" }.joined(separator: "\n")
        } catch {
            logger.error("config reload rejected", metadata: ["error": "\(error)"])
            return "\(error)"
        }
        do {
            let runtime = try GatewayRuntime(config: config, previous: server.runtime)
            try await server.reload(runtime)
        } catch let errors as ConfigErrors {
            for problem in errors.errors { logger.error("config reload rejected", metadata: ["error": "\(problem)", "trigger": "\(reason)"]) }
            return errors.errors.map { "\($0)" }.joined(separator: "\n")
        } catch {
            logger.error("config reload failed; the previous config keeps serving", metadata: ["error": "\(error)", "trigger": "\(reason)"])
            return "\(error)"
        }
        logger.info("config reloaded", metadata: ["file": "\(path)", "trigger": "\(reason)"])
        return nil
    }

    /// Reloads if the file changed since the last load (polled by a timer).
    func reloadIfChanged() async {
        let stamp = Self.stamp(path)
        guard stamp != nil, stamp != lastStamp else { return }
        await reload(reason: "file changed")
    }

    static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStamp(modified: Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec), size: Int(info.st_size))
    }
}
