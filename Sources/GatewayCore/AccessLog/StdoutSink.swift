import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Where access-log and span lines go: standard output, written by one dedicated thread so an event
/// loop never blocks on a slow reader. Loops hand over whole batches; past `maxQueuedBytes` a batch is
/// dropped and counted instead of queued: losing log lines beats stalling traffic.
public final class StdoutSink: Sendable {
    private let pool: NIOThreadPool
    private let queuedBytes = NIOLockedValueBox(0)
    private let droppedLinesBox = NIOLockedValueBox(0)
    private let fileDescriptor: Int32
    public let maxQueuedBytes: Int

    public init(fileDescriptor: Int32 = 1, maxQueuedBytes: Int = 8 << 20) {
        self.fileDescriptor = fileDescriptor
        self.maxQueuedBytes = maxQueuedBytes
        self.pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    /// Lines dropped because the writer could not keep up.
    public var droppedLines: Int { droppedLinesBox.withLockedValue { $0 } }

    /// Queues a batch of complete lines. Called once per event-loop tick at most, not per line.
    public func submit(_ batch: ByteBuffer, lineCount: Int) {
        let size = batch.readableBytes
        let accepted = queuedBytes.withLockedValue { queued -> Bool in
            guard queued + size <= maxQueuedBytes else { return false }
            queued += size
            return true
        }
        guard accepted else {
            droppedLinesBox.withLockedValue { $0 += lineCount }
            return
        }
        let fd = fileDescriptor
        pool.submit { [queuedBytes] _ in
            batch.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        break
                    }
                    offset += written
                }
            }
            queuedBytes.withLockedValue { $0 -= size }
        }
    }

    /// Waits until everything queued is written (shutdown).
    public func shutdown() {
        try? pool.syncShutdownGracefully()
    }
}

/// The access-log lines of one event loop, collected for up to `batchInterval` (or 64 KiB) and handed
/// to the sink as one batch.
public final class AccessLogBuffer {
    private let eventLoop: EventLoop
    private let sink: StdoutSink
    private var batch: ByteBuffer
    private var lines = 0
    private var flushScheduled = false
    public let enabled: Bool
    private let format: AccessLogFormat
    /// Successful requests pass when a random draw is below this (scaled to 2^32); errors always pass.
    private let sampleThreshold: UInt64
    private var random: UInt64

    static let batchInterval = TimeAmount.milliseconds(10)

    public init(eventLoop: EventLoop, sink: StdoutSink, enabled: Bool, format: AccessLogFormat = .allJSON, sampleRate: Double = 1) {
        self.eventLoop = eventLoop
        self.sink = sink
        self.enabled = enabled
        self.format = format
        self.sampleThreshold = UInt64(max(0, min(1, sampleRate)) * 4_294_967_296)
        var system = SystemRandomNumberGenerator()
        self.random = system.next() | 1
        self.batch = ByteBufferAllocator().buffer(capacity: 4096)
    }

    private func sampled(status: Int) -> Bool {
        if status >= 400 || sampleThreshold >= 4_294_967_296 { return true }
        // xorshift64: cheap, and good enough to pick lines.
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return (random >> 32) < sampleThreshold
    }

    /// In place (`inout`): a plain argument read from a class property, the stream's record, would be
    /// copied first, a retain per string field.
    public func append(_ record: inout AccessLogRecord) {
        guard enabled, sampled(status: record.status) else { return }
        record.write(format, to: &batch)
        lines += 1
        scheduleFlush()
    }

    /// A span line, batched with the access-log lines of this loop.
    public func append(_ span: SpanRecord) {
        span.write(to: &batch)
        lines += 1
        scheduleFlush()
    }

    /// Batches for a few milliseconds: one hand-over to the writer thread per batch, not per line, and
    /// the lines still appear promptly.
    private func scheduleFlush() {
        if batch.readableBytes >= 64 * 1024 {
            flush()
        } else if !flushScheduled {
            flushScheduled = true
            let loopBoundSelf = NIOLoopBound(self, eventLoop: eventLoop)
            eventLoop.scheduleTask(in: Self.batchInterval) { loopBoundSelf.value.flush() }
        }
    }

    func flush() {
        flushScheduled = false
        guard lines > 0 else { return }
        sink.submit(batch, lineCount: lines)
        lines = 0
        batch = ByteBufferAllocator().buffer(capacity: 4096)
    }
}
