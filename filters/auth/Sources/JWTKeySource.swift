import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The keys JWTs are checked against: the `jwks_file` keys plus, with `jwks_url`, the last good JWKS
/// fetched from there. Requests read the current set with one atomic load; fetches (the first, the
/// periodic refresh, and refetches for unknown key ids) replace it whole. A failed fetch keeps the
/// last good keys and logs.
///
/// Fetching starts with the first stream (`start(on:)`), on that stream's event loop, so `portcullis
/// check` never touches the network and the timers die with the gateway's event loops.
final class JWTKeySource: Sendable {
    private let fileKeys: JWKSet
    private let remote: AuthFilterConfig.RemoteJWKS?
    private let current: ManagedAtomic<JWKSet>
    private let started = ManagedAtomic<Bool>(false)
    private let loadedRemote = ManagedAtomic<Bool>(false)
    private let logger: Logger

    /// The slow path's bookkeeping (fetch in flight, last fetch time, the refresh task): touched on
    /// start, refresh and unknown-kid refetches only, never by a request with a known key.
    private struct FetchState {
        var loop: EventLoop?
        var inFlight: EventLoopFuture<String?>?
        var lastFetchStarted: NIODeadline?
        var refreshTask: RepeatedTask?
    }
    private let state = NIOLockedValueBox(FetchState())

    init(fileKeys: JWKSet, remote: AuthFilterConfig.RemoteJWKS?, logger: Logger) {
        self.fileKeys = fileKeys
        self.remote = remote
        self.current = ManagedAtomic(fileKeys)
        self.logger = logger
    }

    deinit {
        state.withLockedValue { $0.refreshTask?.cancel() }
    }

    var keys: JWKSet { current.load(ordering: .acquiring) }

    /// The `jwks_url`, if configured.
    var url: JWKSURL? { remote?.url }
    /// Whether a `jwks_url` is configured (so a refetch may find keys the current set lacks).
    var isRemote: Bool { remote != nil }
    /// Whether a fetch from the URL has succeeded yet.
    var hasLoadedRemote: Bool { loadedRemote.load(ordering: .relaxed) }

    /// Called for every new stream; does something only the first time.
    func start(on loop: EventLoop) {
        guard let remote, !started.load(ordering: .relaxed),
              started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        state.withLockedValue { $0.loop = loop }
        _ = refetch(force: true).future
        let task = loop.scheduleRepeatedAsyncTask(initialDelay: remote.refreshInterval, delay: remote.refreshInterval) { [weak self] _ in
            guard let self else { return loop.makeSucceededVoidFuture() }
            return self.refetch(force: true).future.map { _ in }
        }
        state.withLockedValue { $0.refreshTask = task }
    }

    /// What a `refetch` call did: started a fetch, joined one in flight, or nothing (rate-limited).
    enum FetchRole {
        case started, joined, skipped
    }

    /// Fetches the URL's JWKS now unless a fetch is in flight (then joins it) or, without `force`, one
    /// started less than `jwks_min_refetch` ago (then returns at once). Never fails: the future
    /// completes when the attempt is over, with nil or why it failed. A fetch this call starts sends
    /// `traceparent` (the trace of the request that asked for it).
    func refetch(force: Bool = false, traceparent: String? = nil) -> (future: EventLoopFuture<String?>, role: FetchRole) {
        guard let remote else { preconditionFailure("refetch without jwks_url") }
        let now = NIODeadline.now()
        let decision: (EventLoop, EventLoopPromise<String?>?, EventLoopFuture<String?>, FetchRole)? = state.withLockedValue { state in
            guard let loop = state.loop else { return nil }
            if let inFlight = state.inFlight { return (loop, nil, inFlight, .joined) }
            if !force, let last = state.lastFetchStarted, now - last < remote.minimumRefetchInterval {
                return (loop, nil, loop.makeSucceededFuture(nil), .skipped)
            }
            let promise = loop.makePromise(of: String?.self)
            state.inFlight = promise.futureResult
            state.lastFetchStarted = now
            return (loop, promise, promise.futureResult, .started)
        }
        // start(on:) runs in makeFilter, before any stream can ask for a refetch.
        guard let (loop, promise, future, role) = decision else { preconditionFailure("refetch before start(on:)") }
        guard let promise else { return (future, role) }
        loop.execute {
            JWKSFetcher.fetch(remote.url, tls: remote.tls, on: loop, timeout: remote.fetchTimeout, traceparent: traceparent).whenComplete { result in
                let problem = self.finishFetch(result)
                self.state.withLockedValue { $0.inFlight = nil }
                promise.succeed(problem)
            }
        }
        return (future, role)
    }

    /// Installs fetched keys; returns why the fetch failed, or nil.
    private func finishFetch(_ result: Result<[UInt8], Error>) -> String? {
        guard let remote else { return nil }
        switch result {
        case .success(let body):
            do {
                let fetched = try JWKSet.parse(body)
                current.store(fileKeys.merged(with: fetched), ordering: .releasing)
                loadedRemote.store(true, ordering: .relaxed)
                logger.debug("JWKS fetched", metadata: ["jwks_url": "\(remote.url)", "keys": "\(fetched.keys.count)"])
                return nil
            } catch {
                logger.warning("JWKS refresh failed; keeping the last good keys",
                               metadata: ["jwks_url": "\(remote.url)", "error": "\(error)"])
                return "invalid JWKS: \(error)"
            }
        case .failure(let error):
            logger.warning("JWKS refresh failed; keeping the last good keys",
                           metadata: ["jwks_url": "\(remote.url)", "error": "\(error)"])
            return "\(error)"
        }
    }
}
