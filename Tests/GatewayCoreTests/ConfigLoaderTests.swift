@testable import GatewayCore
import Testing

@Suite("Config loading")
struct ConfigLoaderTests {
    // MARK: Valid configs

    @Test("a complete config parses into typed values")
    func fullConfig() throws {
        let config = try ConfigFixture.parse(ConfigFixture.full)
        #expect(config.source == ConfigFixture.file)
        #expect(config.workers == 4)
        #expect(config.accessLog.enabled == false)
        try #require(config.listeners.count == 2)
        try #require(config.clusters.count == 2)

        let publicListener = config.listeners[0]
        #expect(publicListener.name == "public")
        #expect(publicListener.address == HostPort(host: "0.0.0.0", port: 8080))
        #expect(publicListener.limits == RequestLimits(maxHeaderBytes: 16 * 1024, maxHeaders: 50, maxURIBytes: 4096, maxBodyBytes: 10 * 1024 * 1024))
        #expect(publicListener.timeouts == ListenerTimeouts(
            headerRead: .milliseconds(5_000), bodyRead: .milliseconds(250), idle: .milliseconds(120_000), request: .disabled))
        try #require(publicListener.routes.count == 3)

        let api = publicListener.routes[0]
        #expect(api.match == RouteMatch(host: "api.example.com", pathPrefix: "/v1/", path: nil), "hosts are lowercased at load")
        #expect(api.cluster == "api")
        #expect(api.maxBodyBytes == .some(.some(1 << 30)))
        #expect(api.requestTimeout == .milliseconds(3_600_000))

        let health = publicListener.routes[1]
        #expect(health.match == RouteMatch(host: "*.example.com", pathPrefix: nil, path: "/health"))
        #expect(health.cluster == "web")
        #expect(health.maxBodyBytes == .some(nil), "0 overrides the listener's limit with 'unlimited'")
        #expect(health.requestTimeout == .milliseconds(1_500))

        let fallback = publicListener.routes[2]
        #expect(fallback.match == RouteMatch(host: nil, pathPrefix: "/", path: nil), "an empty match matches every path")
        #expect(fallback.maxBodyBytes == nil, "no override: the listener's limit applies")
        #expect(fallback.requestTimeout == nil)

        let admin = config.listeners[1]
        #expect(admin.name == "admin")
        #expect(admin.address == HostPort(host: "::1", port: 9090))
        #expect(admin.address.description == "[::1]:9090")
        #expect(admin.limits == RequestLimits())
        #expect(admin.timeouts == ListenerTimeouts())
        #expect(admin.routes.map(\.match) == [RouteMatch(host: nil, pathPrefix: "/admin", path: nil)])

        let apiCluster = config.clusters[0]
        #expect(apiCluster.name == "api")
        #expect(apiCluster.lb == .roundRobin)
        #expect(apiCluster.connectTimeout == .milliseconds(2_000))
        #expect(apiCluster.idleTimeout == .disabled)
        #expect(apiCluster.maxIdlePerEndpoint == 8)
        #expect(apiCluster.maxRequestsPerConnection == 1000)
        #expect(apiCluster.endpoints == [
            EndpointConfig(address: HostPort(host: "10.0.0.1", port: 9001), weight: 5),
            EndpointConfig(address: HostPort(host: "fd00::2", port: 9002), weight: 1),
        ])

        let web = config.clusters[1]
        #expect(web.name == "web")
        #expect(web.endpoints == [EndpointConfig(address: HostPort(host: "localhost", port: 8081), weight: 0)])
    }

    @Test("everything left out gets its documented default")
    func defaults() throws {
        let config = try ConfigFixture.parse(ConfigFixture.minimal)
        #expect(config.workers == 0, "0 means one event loop per core")
        #expect(config.accessLog.enabled)

        let listener = try #require(config.listeners.first)
        #expect(listener.limits.maxHeaderBytes == 32 * 1024)
        #expect(listener.limits.maxHeaders == 100)
        #expect(listener.limits.maxURIBytes == 8 * 1024)
        #expect(listener.limits.maxBodyBytes == nil)
        #expect(listener.timeouts.headerRead == .milliseconds(10_000))
        #expect(listener.timeouts.bodyRead == .milliseconds(30_000))
        #expect(listener.timeouts.idle == .milliseconds(60_000))
        #expect(listener.timeouts.request == .milliseconds(60_000))

        let route = try #require(listener.routes.first)
        #expect(route.maxBodyBytes == nil)
        #expect(route.requestTimeout == nil)

        let cluster = try #require(config.clusters.first)
        #expect(cluster.lb == .roundRobin)
        #expect(cluster.connectTimeout == .milliseconds(5_000))
        #expect(cluster.idleTimeout == .milliseconds(30_000))
        #expect(cluster.maxIdlePerEndpoint == 1024)
        #expect(cluster.maxRequestsPerConnection == 0)
        #expect(cluster.endpoints == [EndpointConfig(address: HostPort(host: "127.0.0.1", port: 9001), weight: 1)])
    }

    @Test("a key with an empty value is treated as left out")
    func emptyValueIsAbsent() throws {
        let yaml = ConfigFixture.minimal(replacing: "    routes:", with: "    timeouts:\n    limits: ~\n    routes:")
        let listener = try #require(try ConfigFixture.parse(yaml).listeners.first)
        #expect(listener.timeouts == ListenerTimeouts())
        #expect(listener.limits == RequestLimits())
    }

    static let durationCases: [(String, ConfigDuration)] = [
        ("250ms", .milliseconds(250)),
        ("5s", .milliseconds(5_000)),
        ("2m", .milliseconds(120_000)),
        ("1h", .milliseconds(3_600_000)),
        ("0", .disabled),
        ("off", .disabled),
        ("0s", .disabled),
    ]

    @Test("durations take ms, s, m and h; 0 and off disable", arguments: durationCases)
    func durations(_ text: String, _ expected: ConfigDuration) throws {
        #expect(ConfigDuration(parsing: text) == expected)
        let yaml = ConfigFixture.minimal(replacing: "    routes:", with: "    timeouts: { idle: \(text) }\n    routes:")
        let listener = try #require(try ConfigFixture.parse(yaml).listeners.first)
        #expect(listener.timeouts.idle == expected)
    }

    static let sizeCases: [(String, Int64?)] = [
        ("512", 512),
        ("16k", 16_384),
        ("16KiB", 16_384),
        ("10MiB", 10_485_760),
        ("10m", 10_485_760),
        ("1g", 1_073_741_824),
        ("1GiB", 1_073_741_824),
        ("0", nil),
    ]

    @Test("sizes take plain bytes or binary k, m and g units; 0 means unlimited", arguments: sizeCases)
    func sizes(_ text: String, _ expected: Int64?) throws {
        let yaml = ConfigFixture.minimal(replacing: "    routes:", with: "    limits: { max_body_bytes: \(text) }\n    routes:")
        let listener = try #require(try ConfigFixture.parse(yaml).listeners.first)
        #expect(listener.limits.maxBodyBytes == expected)
    }

    @Test("two listeners may both ask for an ephemeral port")
    func ephemeralPortsDoNotClash() throws {
        let yaml = """
            listeners:
              - name: one
                address: 127.0.0.1:0
                routes: [{ match: { path_prefix: / }, cluster: web }]
              - name: two
                address: 127.0.0.1:0
                routes: [{ match: { path_prefix: / }, cluster: web }]
            clusters:
              - name: web
                endpoints: [{ address: 127.0.0.1:9001 }]
            """
        #expect(try ConfigFixture.parse(yaml).listeners.map(\.name) == ["one", "two"])
    }

    // MARK: Unknown keys

    @Test("an unknown top-level key is reported at its line with a did-you-mean hint")
    func unknownTopLevelKey() throws {
        let yaml = ConfigFixture.minimal + "\nworker: 2\n"
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == 11)
        #expect(error.column == 1)
        #expect(error.keyPath == "worker")
        #expect(error.message == "unknown key 'worker' (did you mean 'workers'?); allowed: workers, listeners, clusters, access_log, drain, admin, tracing")
    }

    @Test("an unknown key far from every allowed one gets no hint, only the allowed keys")
    func unknownKeyWithoutHint() throws {
        let yaml = "colour: blue\n" + ConfigFixture.minimal
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == 1)
        #expect(error.keyPath == "colour")
        #expect(error.message == "unknown key 'colour'; allowed: workers, listeners, clusters, access_log, drain, admin, tracing")
    }

    @Test("an unknown nested key is reported once, at its line, with its key path and a hint", arguments: [
        ConfigErrorCase("listener",
                        ConfigFixture.minimal(replacing: "    routes:", with: "    limit: { max_headers: 10 }\n    routes:"),
                        keyPath: "listeners[0].limit", at: "limit:", message: "unknown key 'limit' (did you mean 'limits'?)"),
        ConfigErrorCase("match",
                        ConfigFixture.minimal(replacing: "{ path_prefix: / }", with: "{ path_prefx: / }"),
                        keyPath: "listeners[0].routes[0].match.path_prefx", at: "path_prefx",
                        message: "unknown key 'path_prefx' (did you mean 'path_prefix'?); allowed: host, path_prefix, path"),
        ConfigErrorCase("route",
                        ConfigFixture.minimal(replacing: "        cluster: web", with: "        cluster: web\n        timeout: { request: 5s }"),
                        keyPath: "listeners[0].routes[0].timeout", at: "timeout:", message: "(did you mean 'timeouts'?)"),
        ConfigErrorCase("cluster",
                        ConfigFixture.minimal(replacing: "    endpoints:", with: "    pools: { max_idle_per_endpoint: 1 }\n    endpoints:"),
                        keyPath: "clusters[0].pools", at: "pools:", message: "unknown key 'pools' (did you mean 'pool'?)"),
        ConfigErrorCase("endpoint",
                        ConfigFixture.minimal(replacing: "- address: 127.0.0.1:9001", with: "- address: 127.0.0.1:9001\n        wieght: 2"),
                        keyPath: "clusters[0].endpoints[0].wieght", at: "wieght", message: "unknown key 'wieght' (did you mean 'weight'?)"),
        ConfigErrorCase("access log",
                        "access_log: { enable: false }\n" + ConfigFixture.minimal,
                        keyPath: "access_log.enable", at: "enable:", message: "unknown key 'enable' (did you mean 'enabled'?)"),
    ])
    func unknownNestedKey(_ testCase: ConfigErrorCase) throws {
        try testCase.verify()
    }

    @Test("a nested unknown key's column is where the key starts")
    func unknownKeyColumn() throws {
        let yaml = ConfigFixture.minimal(replacing: "    routes:", with: "    limit: { max_headers: 10 }\n    routes:")
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == 4)
        #expect(error.column == 5)
    }

    // MARK: Wrong types and values

    @Test("a value of the wrong type is reported once, at its line, with what was expected", arguments: [
        ConfigErrorCase("integer", "workers: many\n" + ConfigFixture.minimal,
                        keyPath: "workers", at: "workers: many", message: "expected an integer"),
        ConfigErrorCase("integer in range", "workers: 2000\n" + ConfigFixture.minimal,
                        keyPath: "workers", at: "workers: 2000", message: "must be between 0 and 1024, got 2000"),
        ConfigErrorCase("bool", "access_log: { enabled: maybe }\n" + ConfigFixture.minimal,
                        keyPath: "access_log.enabled", at: "enabled: maybe", message: "expected true or false"),
        ConfigErrorCase("string", ConfigFixture.minimal(replacing: "name: public", with: "name: [a, b]"),
                        keyPath: "listeners[0].name", at: "name: [a, b]", message: "expected a string"),
        ConfigErrorCase("listeners list", """
            listeners:
              name: public
              address: 127.0.0.1:8080
            clusters:
              - name: web
                endpoints: [{ address: 127.0.0.1:9001 }]
            """, keyPath: "listeners", at: "name: public", message: "expected a list"),
        ConfigErrorCase("routes list",
                        ConfigFixture.minimal(replacing: "    routes:\n      - match: { path_prefix: / }\n        cluster: web", with: "    routes: /api"),
                        keyPath: "listeners[0].routes", at: "routes: /api", message: "expected a list"),
        ConfigErrorCase("endpoints list",
                        ConfigFixture.minimal(replacing: "    endpoints:\n      - address: 127.0.0.1:9001", with: "    endpoints: 127.0.0.1:9001"),
                        keyPath: "clusters[0].endpoints", at: "endpoints: 127.0.0.1:9001", message: "expected a list"),
        ConfigErrorCase("mapping", ConfigFixture.minimal(replacing: "    routes:", with: "    limits: 16k\n    routes:"),
                        keyPath: "listeners[0].limits", at: "limits: 16k",
                        message: "expected a mapping with keys: max_header_bytes, max_headers, max_uri_bytes, max_body_bytes"),
        ConfigErrorCase("match mapping", ConfigFixture.minimal(replacing: "{ path_prefix: / }", with: "/api"),
                        keyPath: "listeners[0].routes[0].match", at: "match: /api", message: "expected a mapping"),
        ConfigErrorCase("endpoint weight", ConfigFixture.minimal(replacing: "- address: 127.0.0.1:9001", with: "- { address: 127.0.0.1:9001, weight: heavy }"),
                        keyPath: "clusters[0].endpoints[0].weight", at: "weight: heavy", message: "expected an integer"),
        ConfigErrorCase("empty name", ConfigFixture.minimal(replacing: "name: public", with: "name: \"\""),
                        keyPath: "listeners[0].name", at: "name: \"\"", message: "must not be empty"),
        ConfigErrorCase("header limit floor", ConfigFixture.minimal(replacing: "    routes:", with: "    limits: { max_header_bytes: 512 }\n    routes:"),
                        keyPath: "listeners[0].limits.max_header_bytes", at: "max_header_bytes: 512", message: "must be at least 1k"),
        ConfigErrorCase("load-balancing policy", ConfigFixture.minimal(replacing: "    endpoints:", with: "    lb: least_conn\n    endpoints:"),
                        keyPath: "clusters[0].lb", at: "lb: least_conn",
                        message: "unknown load-balancing policy 'least_conn' (supported: round_robin, random, least_request, ring_hash, maglev)"),
        ConfigErrorCase("connect timeout", ConfigFixture.minimal(replacing: "    endpoints:", with: "    timeouts: { connect: off }\n    endpoints:"),
                        keyPath: "clusters[0].timeouts.connect", at: "connect: off", message: "a connect timeout cannot be disabled"),
        ConfigErrorCase("no routes", ConfigFixture.minimal(replacing: "    routes:\n      - match: { path_prefix: / }\n        cluster: web", with: "    routes: []"),
                        keyPath: "listeners[0].routes", at: "routes: []", message: "a listener needs at least one route"),
    ])
    func wrongType(_ testCase: ConfigErrorCase) throws {
        try testCase.verify()
    }

    @Test("an invalid duration is reported with the accepted forms", arguments: ["5", "1.5s", "5d", "-1s", "soon", "9999999999999999h"])
    func invalidDuration(_ text: String) throws {
        try ConfigErrorCase("duration", ConfigFixture.minimal(replacing: "    routes:", with: "    timeouts: { idle: \(text) }\n    routes:"),
                            keyPath: "listeners[0].timeouts.idle", at: "idle:",
                            message: "invalid duration '\(text)' (use a number with ms, s, m or h, e.g. 5s; 0 disables)").verify()
    }

    @Test("an invalid size is reported with the accepted forms", arguments: ["10x", "-1", "1.5k", "k", "99999999999g"])
    func invalidSize(_ text: String) throws {
        try ConfigErrorCase("size", ConfigFixture.minimal(replacing: "    routes:", with: "    limits: { max_body_bytes: \(text) }\n    routes:"),
                            keyPath: "listeners[0].limits.max_body_bytes", at: "max_body_bytes:",
                            message: "invalid size '\(text)' (use bytes or a number with k, m or g, e.g. 16k)").verify()
    }

    // MARK: Missing keys

    @Test("a missing required key is reported at the mapping that lacks it", arguments: [
        ConfigErrorCase("listener name", ConfigFixture.minimal(replacing: "  - name: public\n    address:", with: "  - address:"),
                        keyPath: "listeners[0]", at: "- address: 127.0.0.1:8080", message: "missing required key 'name'"),
        ConfigErrorCase("listener address", ConfigFixture.minimal(replacing: "    address: 127.0.0.1:8080\n", with: ""),
                        keyPath: "listeners[0]", at: "- name: public", message: "missing required key 'address'"),
        ConfigErrorCase("listener routes", ConfigFixture.minimal(replacing: "    routes:\n      - match: { path_prefix: / }\n        cluster: web\n", with: ""),
                        keyPath: "listeners[0]", at: "- name: public", message: "missing required key 'routes'"),
        ConfigErrorCase("route cluster", ConfigFixture.minimal(replacing: "\n        cluster: web", with: ""),
                        keyPath: "listeners[0].routes[0]", at: "- match:", message: "missing required key 'cluster'"),
        ConfigErrorCase("route match", ConfigFixture.minimal(replacing: "- match: { path_prefix: / }\n        cluster: web", with: "- cluster: web"),
                        keyPath: "listeners[0].routes[0]", at: "- cluster: web", message: "missing required key 'match'"),
        ConfigErrorCase("cluster endpoints", ConfigFixture.minimal(replacing: "\n    endpoints:\n      - address: 127.0.0.1:9001", with: ""),
                        keyPath: "clusters[0]", at: "- name: web", message: "missing required key 'endpoints'"),
        ConfigErrorCase("endpoint address", ConfigFixture.minimal(replacing: "- address: 127.0.0.1:9001", with: "- weight: 2"),
                        keyPath: "clusters[0].endpoints[0]", at: "- weight: 2", message: "missing required key 'address'"),
        ConfigErrorCase("listeners", """
            workers: 2
            clusters:
              - name: web
                endpoints: [{ address: 127.0.0.1:9001 }]
            """, keyPath: "", at: "workers: 2", message: "missing required key 'listeners'"),
    ])
    func missingKey(_ testCase: ConfigErrorCase) throws {
        try testCase.verify()
    }

    @Test("a cluster without a name is reported, and so is each route that needed it")
    func missingClusterName() throws {
        let yaml = ConfigFixture.minimal(replacing: "  - name: web\n    endpoints:", with: "  - endpoints:")
        let errors = ConfigFixture.errors(yaml)
        #expect(errors.map(\.keyPath).sorted() == ["clusters[0]", "listeners[0].routes[0].cluster"])
        #expect(errors.map(\.line).sorted() == [6, 8])
        #expect(errors.contains { $0.message == "missing required key 'name'" })
        #expect(errors.contains { $0.message == "unknown cluster 'web' (defined: none)" })
    }

    // MARK: Addresses

    @Test("an invalid listener address is reported with the expected form", arguments: [
        "localhost", "127.0.0.1:70000", "::1:8080", ":8080", "[::1]8080", "[::1:8080", "127.0.0.1:http", "[]:80",
    ])
    func invalidAddress(_ address: String) throws {
        try ConfigErrorCase("address", ConfigFixture.minimal(replacing: "address: 127.0.0.1:8080", with: "address: \"\(address)\""),
                            keyPath: "listeners[0].address", at: "address: \"",
                            message: "invalid address '\(address)' (expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)").verify()
    }

    @Test("an endpoint without a port is rejected")
    func endpointNeedsPort() throws {
        try ConfigErrorCase("port 0", ConfigFixture.minimal(replacing: "127.0.0.1:9001", with: "127.0.0.1:0"),
                            keyPath: "clusters[0].endpoints[0].address", at: "127.0.0.1:0", message: "an endpoint needs a port").verify()
    }

    @Test("the error's description reads file:line:column: key path: message")
    func errorDescription() throws {
        let yaml = ConfigFixture.minimal(replacing: "address: 127.0.0.1:8080", with: "address: localhost")
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.description == "gateway.yaml:3:14: listeners[0].address: invalid address 'localhost' (expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080)")
    }

    // MARK: References and duplicates

    @Test("a route naming an unknown cluster is reported at that route's cluster line")
    func unknownCluster() throws {
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes:
                  - match: { path_prefix: /api }
                    cluster: api
                  - match: { path_prefix: / }
                    cluster: wbe
            clusters:
              - name: web
                endpoints:
                  - address: 127.0.0.1:9001
              - name: api
                endpoints:
                  - address: 127.0.0.1:9002
            """
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == 8)
        #expect(error.column == 18)
        #expect(error.keyPath == "listeners[0].routes[1].cluster")
        #expect(error.message == "unknown cluster 'wbe' (defined: web, api)")
    }

    @Test("an unknown cluster is reported at its own route even when an earlier route is invalid")
    func unknownClusterAfterInvalidRoute() throws {
        let yaml = ConfigFixture.minimal(replacing: "      - match: { path_prefix: / }\n        cluster: web",
                                         with: "      - match: { path_prefix: /old }\n      - match: { path_prefix: / }\n        cluster: wbe")
        let errors = ConfigFixture.errors(yaml)
        #expect(errors.count == 2, "\(errors)")
        let unknown = try #require(errors.first { $0.message.hasPrefix("unknown cluster") })
        #expect(unknown.line == ConfigFixture.line(of: "cluster: wbe", in: yaml))
        #expect(unknown.keyPath == "listeners[0].routes[1].cluster")
        let missing = try #require(errors.first { $0.message == "missing required key 'cluster'" })
        #expect(missing.line == ConfigFixture.line(of: "/old", in: yaml))
        #expect(missing.keyPath == "listeners[0].routes[0]")
    }

    @Test("an unknown cluster is reported even when its listener has another error")
    func unknownClusterInInvalidListener() throws {
        let yaml = ConfigFixture.minimal(replacing: "address: 127.0.0.1:8080", with: "address: localhost")
            .replacing("cluster: web", with: "cluster: wbe")
        let errors = ConfigFixture.errors(yaml)
        #expect(errors.map(\.keyPath).sorted() == ["listeners[0].address", "listeners[0].routes[0].cluster"])
    }

    @Test("duplicate listener and cluster names are reported at the second definition")
    func duplicateNames() throws {
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes:
                  - match: { path_prefix: / }
                    cluster: web
              - name: public
                address: 127.0.0.1:8081
                routes:
                  - match: { path_prefix: / }
                    cluster: web
            clusters:
              - name: web
                endpoints:
                  - address: 127.0.0.1:9001
              - name: web
                endpoints:
                  - address: 127.0.0.1:9002
            """
        let errors = ConfigFixture.errors(yaml).sorted { $0.line < $1.line }
        #expect(errors.map(\.line) == [7, 16])
        #expect(errors.map(\.keyPath) == ["listeners[1]", "clusters[1]"])
        #expect(errors.map(\.message) == ["duplicate listener name 'public'", "duplicate cluster name 'web'"])
    }

    @Test("a duplicate cluster is reported at the right entry even when an earlier cluster is invalid")
    func duplicateAfterInvalidCluster() throws {
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes: [{ match: { path_prefix: / }, cluster: web }]
            clusters:
              - endpoints:
                  - address: 127.0.0.1:9000
              - name: web
                endpoints:
                  - address: 127.0.0.1:9001
              - name: web
                endpoints:
                  - address: 127.0.0.1:9002
            """
        let errors = ConfigFixture.errors(yaml).sorted { $0.line < $1.line }
        #expect(errors.map(\.line) == [6, 11])
        #expect(errors.map(\.keyPath) == ["clusters[0]", "clusters[2]"])
        #expect(errors.map(\.message) == ["missing required key 'name'", "duplicate cluster name 'web'"])
    }

    @Test("two listeners on the same address are reported at the second")
    func duplicateAddress() throws {
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                routes: [{ match: { path_prefix: / }, cluster: web }]
              - name: internal
                address: 127.0.0.1:8080
                routes: [{ match: { path_prefix: / }, cluster: web }]
            clusters:
              - name: web
                endpoints: [{ address: 127.0.0.1:9001 }]
            """
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == 5)
        #expect(error.keyPath == "listeners[1]")
        #expect(error.message == "address 127.0.0.1:8080 is already used by listener 'public'")
    }

    // MARK: Matches

    @Test("a route path must start with a slash", arguments: [("path", "health"), ("path_prefix", "api/")])
    func pathWithoutSlash(_ key: String, _ value: String) throws {
        try ConfigErrorCase(key, ConfigFixture.minimal(replacing: "{ path_prefix: / }", with: "{ \(key): \(value) }"),
                            keyPath: "listeners[0].routes[0].match.\(key)", at: "- match:", message: "must start with '/'").verify()
    }

    @Test("path and path_prefix in one match are rejected")
    func pathAndPrefix() throws {
        try ConfigErrorCase("both", ConfigFixture.minimal(replacing: "{ path_prefix: / }", with: "{ path: /a, path_prefix: /b }"),
                            keyPath: "listeners[0].routes[0].match", at: "- match:", message: "use either path or path_prefix, not both").verify()
    }

    @Test("a wildcard is allowed only as a whole leading label", arguments: ["*example.com", "api.*.com", "*.*.example.com", "*", "*.", "example.*"])
    func invalidWildcard(_ host: String) throws {
        try ConfigErrorCase(host, ConfigFixture.minimal(replacing: "{ path_prefix: / }", with: "{ host: \"\(host)\" }"),
                            keyPath: "listeners[0].routes[0].match.host", at: "- match:",
                            message: "wildcards are only allowed as a leading '*.' label").verify()
    }

    // MARK: YAML and whole-file problems

    @Test("invalid YAML is reported at the line the parser stopped", arguments: [
        ("workers: 1\nlisteners:\n\t- name: public\n", 3),
        ("workers: 1\n listeners: []\n", 2),
        ("listeners:\n  - name: public\n    routes:\n      - match: { host: *.example.com }\n", 4),
        ("listeners: [\n  { name: a },\n  { name: b }\nclusters: []\n", 4),
    ])
    func invalidYAML(_ yaml: String, _ line: Int) throws {
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == line, "\(error)")
        #expect(error.column > 0)
        #expect(error.message.hasPrefix("invalid YAML: "))
    }

    @Test("a key given twice in one mapping is reported at its line, not as a YAML dump")
    func duplicateYAMLKey() throws {
        let yaml = ConfigFixture.minimal(replacing: "    address: 127.0.0.1:8080", with: "    address: 127.0.0.1:8080\n    address: 127.0.0.1:8081")
        let error = try ConfigFixture.singleError(yaml)
        // Reported at the repeated key (line 4), the line the user has to change.
        #expect(error.line == 4)
        #expect(error.column > 0)
        #expect(error.message == "duplicate key 'address'")
    }

    @Test("an undefined alias and a second document are reported at their lines", arguments: [
        ("workers: 1\nlisteners: *shared\n", 2),
        (ConfigFixture.minimal + "\n---\nworkers: 2\n", 11),
    ])
    func composerErrors(_ yaml: String, _ line: Int) throws {
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == line, "\(error)")
        #expect(error.message.hasPrefix("invalid YAML: "))
    }

    @Test("an empty file is one error at line 1", arguments: ["", "\n\n", "# only a comment\n"])
    func emptyFile(_ yaml: String) throws {
        let error = try ConfigFixture.singleError(yaml)
        #expect(error.line == 1)
        #expect(error.keyPath == "")
        #expect(error.message == "the file is empty")
    }

    @Test("a document that is not a mapping says which keys it should have")
    func rootNotMapping() throws {
        let error = try ConfigFixture.singleError("- listeners\n- clusters\n")
        #expect(error.line == 1)
        #expect(error.message == "expected a mapping with keys: workers, listeners, clusters, access_log, drain, admin, tracing")
    }

    @Test("every error in a file is reported in one throw, each at its own line")
    func allErrorsAtOnce() throws {
        let yaml = """
            workers: lots
            listeners:
              - name: public
                address: localhost
                timeouts: { idle: soon }
                routes:
                  - match: { path: health }
                    cluster: api
            clusters:
              - name: web
                lb: fastest
                endpoints:
                  - address: 127.0.0.1:9001
                    wieght: 2
            """
        let errors = ConfigFixture.errors(yaml).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        #expect(errors.map(\.line) == [1, 4, 5, 7, 8, 11, 14], "\(errors)")
        #expect(errors.map(\.keyPath) == [
            "workers",
            "listeners[0].address",
            "listeners[0].timeouts.idle",
            "listeners[0].routes[0].match.path",
            "listeners[0].routes[0].cluster",
            "clusters[0].lb",
            "clusters[0].endpoints[0].wieght",
        ])
        #expect(errors.allSatisfy { $0.file == ConfigFixture.file && $0.column > 0 })
    }
}
