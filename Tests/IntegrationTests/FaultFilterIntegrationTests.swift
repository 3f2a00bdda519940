import FaultFilter
import Foundation
import NIOCore
import Testing

@Suite("fault filter through the gateway", .serialized)
struct FaultFilterIntegrationTests {
    /// One route with the given `fault:` map, an admin listener for the counters.
    static func config(_ fault: String) -> String {
        "admin: { address: 127.0.0.1:0 }\n" + simpleConfig(routeExtra: "filters:\n  - fault: \(fault)", workers: 1)
    }

    static func counter(_ gw: TestGateway, _ name: String) throws -> Int? {
        let metrics = try curl(["http://127.0.0.1:\(gw.adminPort)/metrics"]).body
        return metrics.split(separator: "\n").first { $0.hasPrefix("portcullis_filter_\(name){") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }
    }

    @Test("a delay a request header asks for is capped at 60 s; a value that is not whole milliseconds ≥ 0 asks for none")
    func headerDelayCap() {
        #expect(FaultFilterConfig.headerDelay(milliseconds: "250") == .milliseconds(250))
        #expect(FaultFilterConfig.headerDelay(milliseconds: "0") == .zero)
        #expect(FaultFilterConfig.headerDelay(milliseconds: "60000") == .seconds(60))
        #expect(FaultFilterConfig.headerDelay(milliseconds: "60001") == .seconds(60))
        #expect(FaultFilterConfig.headerDelay(milliseconds: "9223372036854775807") == .seconds(60))
        for bad in ["-1", "1.5", "", "ten", "99999999999999999999"] {
            #expect(FaultFilterConfig.headerDelay(milliseconds: bad) == nil, "\(bad)")
        }
    }

    @Test("abort at 100%: the configured status, never proxied; at 0%: every request proxied")
    func abort() async throws {
        try await withGateway(Self.config("{ abort: { status: 503, percent: 100 } }")) { gw in
            let result = try curl(["\(gw.baseURL)/a"])
            #expect(result.status == 503)
            #expect(result.body.contains("fault filter abort"))
            let line = try await gw.accessLogLine(path: "/a")
            #expect(line["upstream_addr"] == nil || line["upstream_addr"] is NSNull, "\(line)")
            #expect(try Self.counter(gw, "fault_aborts_total") == 1)
        }
        try await withGateway(Self.config("{ abort: { status: 503, percent: 0 } }")) { gw in
            for n in 0..<5 {
                let status = try curl(["\(gw.baseURL)/p\(n)"]).status
                #expect(status == 200)
            }
            let aborts = try Self.counter(gw, "fault_aborts_total")
            #expect(aborts == 0)
        }
    }

    @Test("delay: the request waits, then is proxied (or aborted when both apply); the gauge shows it while it waits")
    func delay() async throws {
        try await withGateway(Self.config("{ delay: { duration: 300ms }, abort: { status: 429, percent: 0 } }")) { gw in
            let started = Date()
            let result = try await offPool { try curl(["\(gw.baseURL)/slow"]) }
            #expect(result.status == 200)
            #expect(Date().timeIntervalSince(started) >= 0.29, "\(Date().timeIntervalSince(started))")
            #expect(try Self.counter(gw, "fault_delays_total") == 1)
            #expect(try Self.counter(gw, "fault_active") == 0)
        }
        try await withGateway(Self.config("{ delay: { duration: 1s }, abort: { status: 429 } }")) { gw in
            async let waiting = offPool { try curl(["\(gw.baseURL)/both"]) }
            var seen = false
            for _ in 0..<50 where !seen {
                seen = try Self.counter(gw, "fault_active") == 1
                if !seen { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(seen, "the delayed request shows in fault_active")
            #expect(try await waiting.status == 429)
        }
    }

    @Test("headers: true lets a request ask for its own delay or abort; without the headers nothing happens; max_active bounds the delays")
    func headerControlled() async throws {
        try await withGateway(Self.config("{ headers: true, max_active: 1 }")) { gw in
            #expect(try curl(["\(gw.baseURL)/plain"]).status == 200)
            #expect(try curl(["-H", "x-portcullis-fault-abort: 418", "\(gw.baseURL)/teapot"]).status == 418)
            let started = Date()
            #expect(try await offPool { try curl(["-H", "x-portcullis-fault-delay-ms: 200", "\(gw.baseURL)/slow"]) }.status == 200)
            #expect(Date().timeIntervalSince(started) >= 0.19)
            // One delay in progress: a second request asking for one goes through at once.
            async let long = offPool { try curl(["-H", "x-portcullis-fault-delay-ms: 1500", "\(gw.baseURL)/long"]) }
            var active = false
            for _ in 0..<50 where !active {
                active = try Self.counter(gw, "fault_active") == 1
                if !active { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(active)
            let quick = Date()
            #expect(try await offPool { try curl(["-H", "x-portcullis-fault-delay-ms: 1500", "\(gw.baseURL)/skipped"]) }.status == 200)
            #expect(Date().timeIntervalSince(quick) < 1.0, "not delayed: max_active reached")
            #expect(try Self.counter(gw, "fault_skipped_total") == 1)
            #expect(try await long.status == 200)
        }
    }

    @Test("config errors name the key: a status out of range, a bad percent, nothing to do")
    func configErrors() throws {
        let path = NSTemporaryDirectory() + "portcullis-fault-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let yaml = """
            listeners:
              - name: l
                address: 127.0.0.1:0
                routes:
                  - match: { path_prefix: /a }
                    cluster: c
                    filters: [ { fault: { abort: { status: 99 } } } ]
                  - match: { path_prefix: /b }
                    cluster: c
                    filters: [ { fault: { delay: { duration: 1s, percent: 150 } } } ]
                  - match: { path_prefix: / }
                    cluster: c
                    filters: [ { fault: {} } ]
            clusters:
              - name: c
                endpoints: [ { address: 127.0.0.1:9 } ]
            """
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let output = try run(ConfigCommandTests.binary, ["check", "--config", path])
        #expect(output.exitCode == 2)
        #expect(output.stderr.contains("\(path):7:") && output.stderr.contains("fault.abort.status"), "\(output.stderr)")
        #expect(output.stderr.contains("\(path):10:") && output.stderr.contains("fault.delay.percent"), "\(output.stderr)")
        #expect(output.stderr.contains("configure delay, abort or headers: true"), "\(output.stderr)")
    }
}
