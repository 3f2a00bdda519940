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
        var inFlight: EventLoopFuture<Void>?
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

    /// Whether a `jwks_url` is configured (so a refetch may find keys the current set lacks).
    var isRemote: Bool { remote != nil }
    /// Whether a fetch from the URL has succeeded yet.
    var hasLoadedRemote: Bool { loadedRemote.load(ordering: .relaxed) }

    /// Called for every new stream; does something only the first time.
    func start(on loop: EventLoop) {
        guard let remote, !started.load(ordering: .relaxed),
              started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        state.withLockedValue { $0.loop = loop }
        _ = refetch(force: true)
        let task = loop.scheduleRepeatedAsyncTask(initialDelay: remote.refreshInterval, delay: remote.refreshInterval) { [weak self] _ in
            guard let self else { return loop.makeSucceededVoidFuture() }
            return self.refetch(force: true)
        }
        state.withLockedValue { $0.refreshTask = task }
    }

    /// Fetches the URL's JWKS now unless a fetch is in flight (then joins it) or, without `force`, one
    /// started less than `jwks_min_refetch` ago (then returns at once). Never fails: the future
    /// completes when the attempt is over, whatever its result.
    func refetch(force: Bool = false) -> EventLoopFuture<Void> {
        guard let remote else { preconditionFailure("refetch without jwks_url") }
        let now = NIODeadline.now()
        let decision: (EventLoop, EventLoopPromise<Void>?, EventLoopFuture<Void>)? = state.withLockedValue { state in
            guard let loop = state.loop else { return nil }
            if let inFlight = state.inFlight { return (loop, nil, inFlight) }
            if !force, let last = state.lastFetchStarted, now - last < remote.minimumRefetchInterval {
                return (loop, nil, loop.makeSucceededVoidFuture())
            }
            let promise = loop.makePromise(of: Void.self)
            state.inFlight = promise.futureResult
            state.lastFetchStarted = now
            return (loop, promise, promise.futureResult)
        }
        // start(on:) runs in makeFilter, before any stream can ask for a refetch.
        guard let (loop, promise, future) = decision else { preconditionFailure("refetch before start(on:)") }
        guard let promise else { return future }
        loop.execute {
            JWKSFetcher.fetch(remote.url, on: loop, timeout: remote.fetchTimeout).whenComplete { result in
                self.finishFetch(result)
                self.state.withLockedValue { $0.inFlight = nil }
                promise.succeed()
            }
        }
        return future
    }

    private func finishFetch(_ result: Result<[UInt8], Error>) {
        guard let remote else { return }
        switch result {
        case .success(let body):
            do {
                let fetched = try JWKSet.parse(body)
                current.store(fileKeys.merged(with: fetched), ordering: .releasing)
                loadedRemote.store(true, ordering: .relaxed)
                logger.debug("JWKS fetched", metadata: ["jwks_url": "\(remote.url)", "keys": "\(fetched.keys.count)"])
            } catch {
                logger.warning("JWKS refresh failed; keeping the last good keys",
                               metadata: ["jwks_url": "\(remote.url)", "error": "\(error)"])
            }
        case .failure(let error):
            logger.warning("JWKS refresh failed; keeping the last good keys",
                           metadata: ["jwks_url": "\(remote.url)", "error": "\(error)"])
        }
    }
}
