import Dispatch
import GatewayCore
import GatewayFilterAPI
import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore

/// A test-only filter that makes the chain's behaviour visible from outside: it appends its id to the
/// request's `x-probe-chain` field (the echo backend shows it) and to the response's `x-probe-response`,
/// and records hook events per request id in `ProbeLog`. Config keys choose a behaviour to exercise.
///
/// ```yaml
/// - probe: { id: a, respond: 418, suspend_ms: 50, throw: request_head, set_cluster: other,
///            metadata: hello, copy_metadata_from: b, buffer: true, plain_set: "value" }
/// ```
/// `plain_set` sets `x-probe-plain` through `ReceivedRequestFields.replace(_:plainValue:)`, on the received
/// lines, with whatever bytes it is given.
struct ProbeFilterFactory: HTTPFilterFactory {
    static let name = "probe"

    struct Config: Sendable {
        var id = "probe"
        var respond: Int?
        var suspendMilliseconds: Int?
        var throwIn: String?
        var setCluster: String?
        var metadata: String?
        var copyMetadataFrom: String?
        var buffer = false
        var plainSet: String?
    }

    let config: Config

    static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> Config? {
        guard let map = value.mapping(allowed: ["id", "respond", "suspend_ms", "throw", "set_cluster", "metadata", "copy_metadata_from", "buffer", "plain_set"]) else { return nil }
        var config = Config()
        if let id = map["id"]?.nonEmptyString() { config.id = id }
        config.respond = map["respond"]?.int(min: 200, max: 599)
        config.suspendMilliseconds = map["suspend_ms"]?.int(min: 0, max: 10_000)
        config.throwIn = map["throw"]?.string()
        config.setCluster = map["set_cluster"]?.string()
        config.metadata = map["metadata"]?.string()
        config.copyMetadataFrom = map["copy_metadata_from"]?.string()
        config.buffer = map["buffer"]?.bool() ?? false
        config.plainSet = map["plain_set"]?.string()
        return config
    }

    init(config: Config, environment: FilterEnvironment) throws {
        if let cluster = config.setCluster, !environment.clusterNames.contains(cluster) {
            throw FilterConfigError("set_cluster names an unknown cluster '\(cluster)'")
        }
        self.config = config
    }

    func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { ProbeFilter(config: config) }
}

struct ProbeError: Error, CustomStringConvertible {
    var description: String { "probe exploded" }
}

final class ProbeFilter: HTTPFilter {
    let config: ProbeFilterFactory.Config

    init(config: ProbeFilterFactory.Config) { self.config = config }

    static func key(_ id: String) -> FilterMetadataKey<String> { FilterMetadataKey("probe.\(id)") }

    func onRequestHead(_ head: inout HTTPRequest, receivedFields: ReceivedRequestFields, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        if let value = config.plainSet {
            let kept = Array(value.utf8).withUnsafeBytes { receivedFields.replace(HTTPField.Name("x-probe-plain")!, plainValue: $0) }
            if !kept { head.headerFields[HTTPField.Name("x-probe-plain")!] = value }
        }
        head.headerFields = receivedFields.takeFields()
        return try onRequestHead(&head, endStream: endStream, ctx)
    }

    func onRequestHead(_ head: inout HTTPRequest, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        ProbeLog.record(ctx.requestID, "head:\(config.id)")
        head.headerFields.append(HTTPField(name: HTTPField.Name("x-probe-chain")!, value: config.id))
        if config.throwIn == "request_head" { throw ProbeError() }
        if let value = config.metadata { ctx.metadata[Self.key(config.id)] = value }
        if let from = config.copyMetadataFrom, let seen = ctx.metadata[Self.key(from)] {
            head.headerFields[HTTPField.Name("x-probe-seen")!] = seen
        }
        if let cluster = config.setCluster, !ctx.setCluster(cluster) { throw ProbeError() }
        var verdict = FilterVerdict.proceed
        if let status = config.respond {
            verdict = .respond(FilterLocalReply(status: .init(code: status), headerFields: [HTTPField.Name("x-probe-reply")!: config.id],
                                                body: ByteBuffer(string: "probe \(config.id) says \(status)\n")))
        } else if config.buffer {
            verdict = .bufferBody
        }
        guard let delay = config.suspendMilliseconds else { return verdict }
        // Real asynchronous work: another thread (Dispatch's, not the Swift task pool, which blocking
        // test clients may occupy) completes a promise of the stream's loop later.
        let promise = ctx.eventLoop.makePromise(of: FilterVerdict.self)
        let requestID = ctx.requestID
        let id = config.id
        let fails = config.throwIn == "future"
        let answer = verdict
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) {
            ProbeLog.record(requestID, "resuming:\(id)")
            if fails { promise.fail(ProbeError()) } else { promise.succeed(answer) }
            ProbeLog.record(requestID, "resumed:\(id)")
        }
        return .suspend(promise.futureResult)
    }

    func onRequestBody(_ chunk: inout ByteBuffer, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        if config.buffer && endStream { chunk.writeString("+\(config.id)") }
        return .proceed
    }

    func onResponseHead(_ head: inout HTTPResponse, endStream: Bool, _ ctx: FilterContext) throws -> FilterVerdict {
        ProbeLog.record(ctx.requestID, "response:\(config.id)")
        if config.throwIn == "response_head" { throw ProbeError() }
        head.headerFields.append(HTTPField(name: HTTPField.Name("x-probe-response")!, value: config.id))
        return .proceed
    }

    func onComplete(_ outcome: StreamOutcome, _ ctx: FilterContext) {
        ProbeLog.record(ctx.requestID, "complete:\(config.id):\(outcome.status)")
    }
}

/// Hook events by request id, from every event loop of every test gateway.
enum ProbeLog {
    private static let events = NIOLockedValueBox([String: [String]]())

    static func record(_ requestID: String, _ event: String) {
        events.withLockedValue { $0[requestID, default: []].append(event) }
    }

    static func events(_ requestID: String) -> [String] {
        events.withLockedValue { $0[requestID] ?? [] }
    }

    /// Waits (bounded) until `requestID` has recorded `event`.
    static func wait(for event: String, of requestID: String, within seconds: Double = 10) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !events(requestID).contains(event) {
            guard ContinuousClock.now < deadline else { throw TestFailure("no '\(event)' for \(requestID): \(events(requestID))") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

extension FilterRegistry {
    /// The built-in filters plus the test-only probe.
    static let testing: FilterRegistry = try! FilterRegistry(builtinFilterTypes + [ProbeFilterFactory.self])
}
