import NIOCore

/// Upstream HTTP/1.1 requests written during one event-loop tick are flushed together when the tick's I/O
/// events have all been handled, instead of one `write` as each request is ready.
///
/// Why: the origin is usually asleep in its poller. A flush per request wakes it per request, and when it
/// shares a CPU with the gateway it preempts the gateway at nearly every other request, answers one or two,
/// and sleeps again (session 7 measured 0.54 involuntary context switches per request). Flushed together,
/// the requests of a tick wake it once and it answers them in one go. On the keep-alive benchmark this took
/// the gateway from 49 to 42 µs of CPU per request (bench/RESULTS.md, session 8). The delay it adds is the
/// rest of the current tick; the syscalls are the same (one `write` per connection).
///
/// One per event loop, shared by the loop's clusters; only that loop touches it.
public final class UpstreamFlushBatch {
    private let eventLoop: EventLoop
    private var pending: [HTTP1UpstreamConnection] = []
    /// The other array, swapped in while `pending` is flushed, so neither is reallocated per tick.
    private var spare: [HTTP1UpstreamConnection] = []
    private var scheduled = false

    public init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `connection` at the end of this tick (the caller queues it once per tick).
    func add(_ connection: HTTP1UpstreamConnection) {
        pending.append(connection)
        guard !scheduled else { return }
        scheduled = true
        // A task queued during the tick runs after all of the tick's I/O events.
        eventLoop.assumeIsolated().execute { self.flushAll() }
    }

    private func flushAll() {
        scheduled = false
        swap(&pending, &spare)
        for connection in spare { connection.flushNow() }
        spare.removeAll(keepingCapacity: true)
    }
}
