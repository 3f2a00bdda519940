import Dispatch
import NIOConcurrencyHelpers
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide setup: diagnostics to stderr through swift-log; stdout is reserved for data (access
/// logs, spans).
enum Diagnostics {
    static func bootstrap() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        // A closed stdout pipe must not kill the gateway; the writer sees EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
    }
}

func printError(_ message: String) {
    var line = message
    line += "\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

/// Waits for SIGTERM or SIGINT.
enum ShutdownSignal {
    static func wait() async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let state = SignalState(continuation)
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { state.fire(name) }
                source.resume()
                state.keep(source)
            }
        }
    }

    private final class SignalState: @unchecked Sendable {
        // @unchecked: guarded by `lock`; signal handlers run on a Dispatch queue.
        private let lock = NIOLock()
        private var continuation: CheckedContinuation<String, Never>?
        private var sources: [DispatchSourceSignal] = []

        init(_ continuation: CheckedContinuation<String, Never>) { self.continuation = continuation }

        func keep(_ source: DispatchSourceSignal) { lock.withLock { sources.append(source) } }

        func fire(_ name: String) {
            let continuation = lock.withLock { () -> CheckedContinuation<String, Never>? in
                defer { self.continuation = nil }
                return self.continuation
            }
            continuation?.resume(returning: name)
        }
    }
}


/// Runs `action` on every SIGHUP until cancelled.
final class ReloadSignal {
    private let source: DispatchSourceSignal

    init(_ action: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
    }

    func cancel() { source.cancel() }
}
