import Dispatch

/// Runs a blocking call (a curl process, a raw-socket read) on a Dispatch thread. Swift concurrency has as
/// many threads as cores (2 here), and a test that blocks one for seconds stalls every other test's awaits
/// (their bounded waits then expire): long blocking calls go through here.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
