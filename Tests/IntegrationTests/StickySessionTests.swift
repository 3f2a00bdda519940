import EchoBackend
import Foundation
import Testing

/// Sticky sessions, filter-set hash keys and zone-aware balancing, through real gateways in front of real
/// echo backends (whose JSON answer names the backend), with curl as the client.
@Suite("Sticky sessions, hash keys and zones", .serialized)
struct StickySessionTests {
    static let key = "k3y-for-tests-0123456789abcdef!!"

    /// One curl process sending `count` GETs to `url` (one keep-alive connection): each answer's status
    /// and backend name, and every response header line of all of them.
    static func repeated(_ url: String, count: Int, _ extra: [String] = []) throws -> (answers: [(status: Int, backend: String?)], headers: String) {
        let headerFile = NSTemporaryDirectory() + "curl-headers-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: headerFile) }
        let output = try run("/usr/bin/env", ["curl", "-sS", "--max-time", "30", "-D", headerFile, "-w", "~~%{http_code}~~"] + extra
                             + Array(repeating: url, count: count))
        var answers: [(Int, String?)] = []
        var rest = Substring(output.stdout)
        while let open = rest.range(of: "~~") {
            let body = rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "~~") else { break }
            let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            answers.append((Int(afterOpen[..<close.lowerBound]) ?? 0, json?["name"] as? String))
            rest = afterOpen[close.upperBound...]
        }
        // An empty list would make every `allSatisfy` below pass: a short read is a failure of its own.
        guard answers.count == count else { throw TestFailure("expected \(count) answers, got \(answers.count): \(output.stdout.prefix(300)) \(output.stderr)") }
        return (answers, (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? "")
    }

    /// `name=value` of a Set-Cookie header for `name` among the header lines, or nil.
    static func cookie(_ name: String, in headers: String) -> String? {
        for line in headers.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("set-cookie:") {
            let value = line.dropFirst("set-cookie:".count).trimmingCharacters(in: .whitespaces)
            let pair = value.split(separator: ";", maxSplits: 1)[0]
            if pair.hasPrefix("\(name)=") { return String(pair) }
        }
        return nil
    }

    static func setCookieCount(_ headers: String) -> Int {
        headers.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("set-cookie:") }.count
    }

    static func config(endpoints: String, sticky: String, lb: String = "round_robin", extra: String = "", routes: String? = nil,
                       clusters: String = "", admin: Bool = false) -> String {
        """
        \(admin ? "admin: { address: 127.0.0.1:0 }" : "")
        workers: 2
        listeners:
          - name: test
            address: 127.0.0.1:0
            routes:
        \(routes ?? "      - { match: { path_prefix: / }, cluster: backend }")
        clusters:
          - name: backend
            lb: \(lb)
            endpoints: \(endpoints)
            sticky: \(sticky)
        \(extra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        \(clusters)
        """
    }

    /// Requests without a cookie until one is answered by `backend`; returns that answer's cookie.
    static func cookie(for backend: String, _ url: String, name: String = "pc_aff", tries: Int = 20) throws -> String {
        for _ in 0..<tries {
            let result = try curl([url])
            if result.json["name"] as? String == backend, let cookie = cookie(name, in: result.headers) { return cookie }
        }
        throw TestFailure("no cookie for \(backend) in \(tries) tries")
    }

    static let threeBackends = #"[ { address: "{{echo0}}" }, { address: "{{echo1}}" }, { address: "{{echo2}}" } ]"#

    @Test("cookie: the first answer sets a signed cookie; 20 requests with it reach the same backend and get no new cookie")
    func cookieSticks() async throws {
        let sticky = "{ cookie: { name: pc_aff, ttl: 1h, same_site: strict, secure: true }, key: \"\(Self.key)\" }"
        try await withGateway(backends: 3, Self.config(endpoints: Self.threeBackends, sticky: sticky)) { gw in
            let url = "\(gw.baseURL)/s"
            let first = try await offPool { try curl([url]) }
            let setCookie = try #require(first.headerValues("set-cookie").first)
            #expect(setCookie.hasPrefix("pc_aff="))
            #expect(setCookie.hasSuffix("; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict"), "\(setCookie)")
            let cookie = try #require(Self.cookie("pc_aff", in: first.headers))
            let backend = try #require(first.json["name"] as? String)
            #expect(!cookie.contains("127.0.0.1"), "opaque: the cookie does not show the address")
            let run = try await offPool { try Self.repeated(url, count: 20, ["-b", cookie]) }
            #expect(run.answers.count == 20)
            #expect(run.answers.allSatisfy { $0.status == 200 && $0.backend == backend }, "\(run.answers)")
            #expect(Self.setCookieCount(run.headers) == 0, "a valid cookie is not re-issued")
            // Without the cookie, round robin spreads: stickiness is the cookie's doing.
            let plain = try await offPool { try Self.repeated(url, count: 6) }
            #expect(Set(plain.answers.compactMap(\.backend)).count == 3)
        }
    }

    @Test("cookie: a tampered or foreign cookie is ignored: the request is balanced and gets a fresh cookie")
    func tamperedCookie() async throws {
        let sticky = "{ cookie: { name: pc_aff }, key: \"\(Self.key)\" }"
        try await withGateway(backends: 3, Self.config(endpoints: Self.threeBackends, sticky: sticky)) { gw in
            let url = "\(gw.baseURL)/t"
            let cookie = try await offPool { try Self.cookie(for: "echo-1", url) }
            var bytes = Array(cookie.utf8)
            bytes[bytes.count - 5] = bytes[bytes.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let tampered = String(decoding: bytes, as: UTF8.self)
            let run = try await offPool { try Self.repeated(url, count: 6, ["-b", tampered]) }
            #expect(Set(run.answers.compactMap(\.backend)).count == 3, "balanced as if there were no cookie: \(run.answers)")
            #expect(Self.setCookieCount(run.headers) == 6, "each gets a fresh cookie")
            let foreign = "pc_aff=AQ" + String(repeating: "A", count: 37)  // well-formed, version 1, but a made-up MAC
            let other = try await offPool { try curl(["-b", foreign, url]) }
            #expect(other.status == 200)
            #expect(Self.cookie("pc_aff", in: other.headers) != nil)
        }
    }

    @Test("cookie: with the pinned backend stopped, strict answers 503 and fallback goes elsewhere with a new cookie")
    func strictAndFallback() async throws {
        let routes = """
              - { match: { path_prefix: /strict }, cluster: backend }
              - { match: { path_prefix: /fallback }, cluster: loose }
        """
        let clusters = """
          - name: loose
            endpoints: [ { address: "{{echo0}}" }, { address: "{{echo1}}" } ]
            sticky: { cookie: { name: pc_loose }, key: "\(Self.key)", mode: fallback }
            pool: { max_idle_per_endpoint: 0 }
        """
        let config = Self.config(endpoints: #"[ { address: "{{echo0}}" }, { address: "{{echo1}}" } ]"#,
                                 sticky: "{ cookie: { name: pc_strict }, key: \"\(Self.key)\", mode: strict }",
                                 extra: "pool: { max_idle_per_endpoint: 0 }  # no pooled connection outlives the stopped backend", routes: routes, clusters: clusters)
        try await withGateway(backends: 2, config) { gw in
            let strict = try await offPool { try Self.cookie(for: "echo-1", "\(gw.baseURL)/strict", name: "pc_strict") }
            let loose = try await offPool { try Self.cookie(for: "echo-1", "\(gw.baseURL)/fallback", name: "pc_loose") }
            try await gw.echoes[1].channel.close()
            let refused = try await offPool { try curl(["-b", strict, "\(gw.baseURL)/strict/down"]) }
            #expect(refused.status == 503)
            #expect(refused.body.contains("the server holding this session is unavailable"), "\(refused.body)")
            let line = try await gw.accessLogLine(path: "/strict/down")
            #expect(line["error"] as? String == "sticky endpoint unavailable")
            let moved = try await offPool { try curl(["-b", loose, "\(gw.baseURL)/fallback"]) }
            #expect(moved.status == 200)
            #expect(moved.json["name"] as? String == "echo-0")
            let fresh = try #require(Self.cookie("pc_loose", in: moved.headers), "fallback re-issues the cookie")
            #expect(fresh != loose)
            let after = try await offPool { try Self.repeated("\(gw.baseURL)/fallback", count: 5, ["-b", fresh]) }
            #expect(after.answers.allSatisfy { $0.backend == "echo-0" })
            #expect(Self.setCookieCount(after.headers) == 0)
        }
    }

    @Test("a retry after a 5xx on the sticky endpoint follows the mode: strict retries there, fallback elsewhere with a new cookie")
    func retriesFollowTheMode() async throws {
        let routes = """
              - { match: { path_prefix: /strict }, cluster: backend }
              - { match: { path_prefix: /fallback }, cluster: loose }
        """
        let clusters = """
          - name: loose
            endpoints: [ { address: "{{echo0}}" }, { address: "{{echo1}}" } ]
            sticky: { cookie: { name: pc_loose }, key: "\(Self.key)" }
            retries: { attempts: 1, on: [5xx], backoff: { base: 1ms } }
        """
        let config = Self.config(endpoints: #"[ { address: "{{echo0}}" }, { address: "{{echo1}}" } ]"#,
                                 sticky: "{ cookie: { name: pc_strict }, key: \"\(Self.key)\", mode: strict }",
                                 extra: "retries: { attempts: 2, on: [5xx], backoff: { base: 1ms } }", routes: routes, clusters: clusters)
        try await withGateway(backends: 2, config) { gw in
            let strict = try await offPool { try Self.cookie(for: "echo-1", "\(gw.baseURL)/strict", name: "pc_strict") }
            let loose = try await offPool { try Self.cookie(for: "echo-1", "\(gw.baseURL)/fallback", name: "pc_loose") }
            let stayed = try await offPool { try curl(["-b", strict, "\(gw.baseURL)/strict/fail?status=500"]) }
            #expect(stayed.status == 500)
            #expect(stayed.json["name"] as? String == "echo-1", "every attempt on the session's endpoint")
            #expect(stayed.headerValues("set-cookie").isEmpty)
            let strictLine = try await gw.accessLogLine(path: "/strict/fail?status=500")
            #expect(strictLine["upstream_attempts"] as? Int == 3)
            let moved = try await offPool { try curl(["-b", loose, "\(gw.baseURL)/fallback/fail?status=500"]) }
            #expect(moved.json["name"] as? String == "echo-0", "the retry went to the other endpoint")
            let fresh = try #require(Self.cookie("pc_loose", in: moved.headers), "and the answer names it")
            let next = try await offPool { try curl(["-b", fresh, "\(gw.baseURL)/fallback/next"]) }
            #expect(next.json["name"] as? String == "echo-0")
        }
    }

    @Test("cookie stickiness over HTTP/2: issued on the first stream, honoured on the next")
    func cookieOverHTTP2() async throws {
        let sticky = "{ cookie: { name: pc_aff }, key: \"\(Self.key)\" }"
        let config = Self.config(endpoints: Self.threeBackends, sticky: sticky)
            .replacingOccurrences(of: "    address: 127.0.0.1:0\n", with: "    address: 127.0.0.1:0\n    http2: { cleartext: true }\n")
        try await withGateway(backends: 3, config) { gw in
            let first = try await offPool { try curl(h2: true, ["\(gw.baseURL)/h2"]) }
            let cookie = try #require(Self.cookie("pc_aff", in: first.headers))
            let backend = try #require(first.json["name"] as? String)
            // One connection per request (curl 7.88 fails a second request on a reused h2c prior-knowledge
            // connection, with any upstream; nghttp does not).
            for index in 0..<5 {
                let again = try await offPool { try curl(h2: true, ["-b", cookie, "\(gw.baseURL)/h2/\(index)"]) }
                #expect(again.status == 200 && again.json["name"] as? String == backend)
                #expect(again.headerValues("set-cookie").isEmpty)
            }
        }
    }

    @Test("a weight-0 (draining) endpoint is still reached by its cookie, never by new clients; cookies survive the reload")
    func drainingEndpoint() async throws {
        func config(_ weight: Int) -> String {
            Self.config(endpoints: #"[ { address: "{{echo0}}" }, { address: "{{echo1}}", weight: \#(weight) } ]"#,
                        sticky: "{ cookie: { name: pc_aff, ttl: 10m }, key: \"\(Self.key)\" }")
        }
        try await withGateway(backends: 2, config(1)) { gw in
            let url = "\(gw.baseURL)/d"
            let pinned = try await offPool { try Self.cookie(for: "echo-1", url) }
            try await gw.reload(config(0))
            let old = try await offPool { try Self.repeated(url, count: 10, ["-b", pinned]) }
            #expect(old.answers.allSatisfy { $0.status == 200 && $0.backend == "echo-1" }, "\(old.answers)")
            #expect(Self.setCookieCount(old.headers) == 0)
            let new = try await offPool { try Self.repeated(url, count: 10) }
            #expect(new.answers.allSatisfy { $0.backend == "echo-0" }, "\(new.answers)")
        }
    }

    /// A second gateway instance in front of `first`'s backends (listed in reverse order), with its own runtime.
    static func secondInstance(of first: TestGateway, key: String?) async throws -> TestGateway {
        let keyText = key.map { ", key: \"\($0)\"" } ?? ""
        let endpoints = "[ " + first.echoes.reversed().map { "{ address: \"127.0.0.1:\($0.port)\" }" }.joined(separator: ", ") + " ]"
        return try await TestGateway.start(backends: 0, Self.config(endpoints: endpoints, sticky: "{ cookie: { name: pc_aff }\(keyText) }"))
    }

    @Test("two instances with the same key honour each other's cookies, and a cookie survives a restart; without a key it does not")
    func instancesAndRestart() async throws {
        let endpoints = #"[ { address: "{{echo0}}" }, { address: "{{echo1}}" }, { address: "{{echo2}}" } ]"#
        try await withGateway(backends: 3, Self.config(endpoints: endpoints, sticky: "{ cookie: { name: pc_aff }, key: \"\(Self.key)\" }")) { first in
            let fromFirst = try await offPool { try Self.cookie(for: "echo-2", "\(first.baseURL)/i") }
            let second = try await Self.secondInstance(of: first, key: Self.key)
            let honoured = try await offPool { try Self.repeated("\(second.baseURL)/i", count: 5, ["-b", fromFirst]) }
            let fromSecond = try await offPool { try Self.cookie(for: "echo-0", "\(second.baseURL)/i") }
            await second.stop()
            #expect(honoured.answers.allSatisfy { $0.backend == "echo-2" }, "\(honoured.answers)")
            #expect(Self.setCookieCount(honoured.headers) == 0)
            let back = try await offPool { try Self.repeated("\(first.baseURL)/i", count: 5, ["-b", fromSecond]) }
            #expect(back.answers.allSatisfy { $0.backend == "echo-0" }, "\(back.answers)")

            // A restart: a new runtime and server with the same config honours the old instance's cookie.
            let restarted = try await Self.secondInstance(of: first, key: Self.key)
            let afterRestart = try await offPool { try Self.repeated("\(restarted.baseURL)/i", count: 5, ["-b", fromSecond]) }
            await restarted.stop()
            #expect(afterRestart.answers.allSatisfy { $0.backend == "echo-0" }, "\(afterRestart.answers)")

            // Without a key each instance signs with its own random key: the cookie is foreign to the next one.
            let keyless = try await Self.secondInstance(of: first, key: nil)
            let unkeyed = try await offPool { try Self.cookie(for: "echo-1", "\(keyless.baseURL)/i") }
            await keyless.stop()
            let keylessRestart = try await Self.secondInstance(of: first, key: nil)
            let lost = try await offPool { try curl(["-b", unkeyed, "\(keylessRestart.baseURL)/i"]) }
            await keylessRestart.stop()
            #expect(Self.cookie("pc_aff", in: lost.headers) != nil, "re-issued: the old random key is gone")
        }
    }

    @Test("header stickiness: a header value keeps its backend on every request and both instances; values spread")
    func headerSticky() async throws {
        try await withGateway(backends: 3, Self.config(endpoints: Self.threeBackends, sticky: "{ header: x-session }")) { gw in
            let url = "\(gw.baseURL)/h"
            var owners: [String: String] = [:]
            for user in 0..<12 {
                let run = try await offPool { try Self.repeated(url, count: 4, ["-H", "x-session: user-\(user)"]) }
                let backends = Set(run.answers.compactMap(\.backend))
                #expect(backends.count == 1, "user-\(user): \(run.answers)")
                owners["user-\(user)"] = backends.first
                #expect(Self.setCookieCount(run.headers) == 0)
            }
            #expect(Set(owners.values).count >= 2, "keys spread over the backends: \(owners)")
            let second = try await TestGateway.start(backends: 0, Self.config(
                endpoints: "[ " + gw.echoes.reversed().map { "{ address: \"127.0.0.1:\($0.port)\" }" }.joined(separator: ", ") + " ]",
                sticky: "{ header: x-session }"))
            var agree = 0
            for user in 0..<12 {
                let answer = try await offPool { try curl(["-H", "x-session: user-\(user)", "\(second.baseURL)/h"]) }
                if answer.json["name"] as? String == owners["user-\(user)"] { agree += 1 }
            }
            await second.stop()
            #expect(agree == 12, "the same key maps to the same backend on another instance")
        }
    }

    @Test("header stickiness, strict: the key's endpoint stopped gives 503; other keys keep working")
    func headerStrict() async throws {
        let config = Self.config(endpoints: #"[ { address: "{{echo0}}" }, { address: "{{echo1}}" } ]"#, sticky: "{ header: x-session, mode: strict }",
                                 extra: "pool: { max_idle_per_endpoint: 0 }")
        try await withGateway(backends: 2, config) { gw in
            var owners: [String: String] = [:]
            for user in 0..<16 {
                let answer = try await offPool { try curl(["-H", "x-session: u\(user)", "\(gw.baseURL)/hs"]) }
                owners["u\(user)"] = answer.json["name"] as? String
            }
            let onOne = try #require(owners.first { $0.value == "echo-1" }?.key, "\(owners)")
            let onZero = try #require(owners.first { $0.value == "echo-0" }?.key, "\(owners)")
            try await gw.echoes[1].channel.close()
            let refused = try await offPool { try curl(["-H", "x-session: \(onOne)", "\(gw.baseURL)/hs"]) }
            #expect(refused.status == 503)
            #expect(refused.body.contains("the server holding this session is unavailable"))
            let fine = try await offPool { try curl(["-H", "x-session: \(onZero)", "\(gw.baseURL)/hs"]) }
            #expect(fine.status == 200 && fine.json["name"] as? String == "echo-0")
        }
    }

    @Test("app_cookie: the application's cookie is prefixed with its endpoint, followed, and reaches the application unchanged")
    func appCookie() async throws {
        let sticky = "{ app_cookie: JSESSIONID, key: \"\(Self.key)\" }"
        try await withGateway(backends: 3, Self.config(endpoints: Self.threeBackends, sticky: sticky)) { gw in
            let login = "\(gw.baseURL)/login?header=set-cookie:JSESSIONID%3Dsess-42%3B%20Path%3D%2F%3B%20HttpOnly"
            let first = try await offPool { try curl([login]) }
            let backend = try #require(first.json["name"] as? String)
            let setCookie = try #require(first.headerValues("set-cookie").first)
            #expect(setCookie.hasPrefix("JSESSIONID="))
            #expect(setCookie.hasSuffix("~sess-42; Path=/; HttpOnly"), "the value keeps its attributes: \(setCookie)")
            let cookie = try #require(Self.cookie("JSESSIONID", in: first.headers))
            let run = try await offPool { try Self.repeated("\(gw.baseURL)/app", count: 12, ["-b", "a=1; \(cookie); b=2"]) }
            #expect(run.answers.allSatisfy { $0.backend == backend }, "\(run.answers)")
            #expect(Self.setCookieCount(run.headers) == 0)
            let seen = try await offPool { try curl(["-b", "a=1; \(cookie); b=2", "\(gw.baseURL)/app"]) }
            let headers = try #require(seen.json["headers"] as? [String: Any])
            #expect(headers["cookie"] as? String == "a=1; JSESSIONID=sess-42; b=2", "the prefix is stripped")
            // An unprefixed session (from before stickiness) is balanced, then named by a re-issued cookie.
            let plain = try await offPool { try curl(["-b", "JSESSIONID=old-1", "\(gw.baseURL)/app"]) }
            let reissued = try #require(Self.cookie("JSESSIONID", in: plain.headers))
            #expect(reissued.hasSuffix("~old-1"))
        }
    }

    @Test("a weighted route_by split keeps a sticky client on the cluster (and endpoint) its cookie names")
    func stickyAcrossSplit() async throws {
        let config = """
        workers: 2
        listeners:
          - name: test
            address: 127.0.0.1:0
            routes:
              - match: { path_prefix: / }
                cluster: blue
                filters:
                  - route_by: { default_split: [ { cluster: blue, weight: 50 }, { cluster: green, weight: 50 } ] }
        clusters:
          - name: blue
            endpoints: [ { address: "{{echo0}}" }, { address: "{{echo1}}" } ]
            sticky: { cookie: { name: pc_aff }, key: "\(Self.key)" }
          - name: green
            endpoints: [ { address: "{{echo2}}" }, { address: "{{echo3}}" } ]
            sticky: { cookie: { name: pc_aff }, key: "\(Self.key)" }
        """
        try await withGateway(backends: 4, config) { gw in
            let url = "\(gw.baseURL)/split"
            for backend in ["echo-1", "echo-2"] {
                let cookie = try await offPool { try Self.cookie(for: backend, url, tries: 40) }
                let run = try await offPool { try Self.repeated(url, count: 20, ["-b", cookie]) }
                #expect(run.answers.allSatisfy { $0.backend == backend }, "\(backend): \(run.answers)")
                #expect(Self.setCookieCount(run.headers) == 0)
            }
            let plain = try await offPool { try Self.repeated(url, count: 20) }
            #expect(Set(plain.answers.compactMap(\.backend)).count >= 3, "without a cookie the split and balancing spread: \(plain.answers)")
        }
    }

    @Test("Lua ctx:set_hash_key drives ring_hash and header stickiness: the same endpoint as hash_on: header for the same value")
    func luaHashKey() async throws {
        let script = packageRoot + "/lua/hash_key.lua"
        let endpoints = #"[ { address: "{{echo0}}" }, { address: "{{echo1}}" }, { address: "{{echo2}}" } ]"#
        let config = """
        workers: 2
        listeners:
          - name: test
            address: 127.0.0.1:0
            routes:
              - match: { path_prefix: /lua }
                cluster: by_filter
                filters: [ { lua: { script: \(script), config: { header: x-tenant, fallback_query: tenant } } } ]
              - match: { path_prefix: /sticky }
                cluster: by_sticky
                filters: [ { lua: { script: \(script), config: { header: x-tenant } } } ]
              - { match: { path_prefix: /header }, cluster: by_header }
        clusters:
          - { name: by_filter, lb: ring_hash, hash_on: filter, endpoints: \(endpoints) }
          - { name: by_header, lb: ring_hash, hash_on: { header: x-tenant }, endpoints: \(endpoints) }
          - { name: by_sticky, sticky: { header: x-session }, endpoints: \(endpoints) }
        """
        LuaLogLines.start()
        try await withGateway(backends: 3, config) { gw in
            var owners: Set<String> = []
            for tenant in 0..<10 {
                let lua = try await offPool { try Self.repeated("\(gw.baseURL)/lua", count: 3, ["-H", "x-tenant: t\(tenant)"]) }
                let byQuery = try await offPool { try curl(["\(gw.baseURL)/lua?tenant=t\(tenant)"]) }
                let header = try await offPool { try curl(["-H", "x-tenant: t\(tenant)", "\(gw.baseURL)/header"]) }
                let expected = try #require(header.json["name"] as? String)
                #expect(lua.answers.allSatisfy { $0.backend == expected }, "t\(tenant): \(lua.answers) vs \(expected)")
                #expect(byQuery.json["name"] as? String == expected)
                // Header stickiness takes the script's key over its header (absent here), on the same ring.
                let sticky = try await offPool { try Self.repeated("\(gw.baseURL)/sticky", count: 3, ["-H", "x-tenant: t\(tenant)"]) }
                #expect(sticky.answers.allSatisfy { $0.backend == expected }, "sticky t\(tenant): \(sticky.answers) vs \(expected)")
                owners.insert(expected)
            }
            #expect(owners.count >= 2, "tenants spread: \(owners)")
        }
    }

    @Test("zones: traffic stays in local_zone while it is healthy, spreads to every zone when it is not; /clusters shows zones")
    func zonePreference() async throws {
        let endpoints = #"[ { address: "{{echo0}}", zone: eu-1 }, { address: "{{echo1}}", zone: eu-1 }, { address: "{{echo2}}", zone: eu-2 } ]"#
        let config = """
        admin: { address: 127.0.0.1:0 }
        workers: 2
        listeners:
          - name: test
            address: 127.0.0.1:0
            routes: [ { match: { path_prefix: / }, cluster: backend } ]
        clusters:
          - name: backend
            endpoints: \(endpoints)
            local_zone: { zone: eu-2, min_healthy_percent: 100 }
            health_check: { tcp: {}, interval: 100ms, timeout: 100ms, unhealthy_threshold: 1, healthy_threshold: 1 }
        """
        try await withGateway(backends: 3, config) { gw in
            let url = "\(gw.baseURL)/z"
            let local = try await offPool { try Self.repeated(url, count: 20) }
            #expect(local.answers.allSatisfy { $0.backend == "echo-2" }, "\(local.answers)")
            let admin = try await offPool { try curl(["http://127.0.0.1:\(gw.adminPort)/clusters"]) }
            let cluster = try #require((admin.json["clusters"] as? [[String: Any]])?.first)
            #expect(cluster["local_zone"] as? String == "eu-2")
            let zones = (cluster["endpoints"] as? [[String: Any]] ?? []).map { $0["zone"] as? String }
            #expect(zones == ["eu-1", "eu-1", "eu-2"])
            let page = try await offPool { try curl(["http://127.0.0.1:\(gw.adminPort)/"]) }
            #expect(page.body.contains("<td class=l>eu-2</td>"))

            try await gw.echoes[2].channel.close()
            let deadline = Date().addingTimeInterval(5)
            while true {
                let state = try await offPool { try curl(["http://127.0.0.1:\(gw.adminPort)/clusters"]) }
                let endpoint = ((state.json["clusters"] as? [[String: Any]])?.first?["endpoints"] as? [[String: Any]])?[2]
                if endpoint?["health"] as? String == "unhealthy" { break }
                if Date() > deadline { throw TestFailure("the local endpoint never turned unhealthy") }
                try await Task.sleep(for: .milliseconds(25))
            }
            let spread = try await offPool { try Self.repeated(url, count: 20) }
            #expect(spread.answers.allSatisfy { $0.status == 200 }, "\(spread.answers)")
            #expect(Set(spread.answers.compactMap(\.backend)) == ["echo-0", "echo-1"])
        }
    }
}
