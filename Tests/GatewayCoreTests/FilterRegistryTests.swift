import GatewayCore
import GatewayFilterAPI
import NIOCore
import Testing

private final class PassFilter: HTTPFilter {}

private struct PassFactory: HTTPFilterFactory {
    static let name = "pass"
    static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> Int? {
        guard let map = value.mapping(allowed: ["level"]) else { return nil }
        return map["level"]?.int(min: 0, max: 9) ?? 1
    }
    init(config: Int, environment: FilterEnvironment) {}
    func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { PassFilter() }
}

private struct OtherPassFactory: HTTPFilterFactory {
    static let name = "pass"
    static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> Int? { 0 }
    init(config: Int, environment: FilterEnvironment) {}
    func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { PassFilter() }
}

@Suite("Filter registry and filter config")
struct FilterRegistryTests {
    @Test("a name registered twice is refused")
    func duplicate() {
        #expect(throws: DuplicateFilterName.self) { try FilterRegistry([PassFactory.self, OtherPassFactory.self]) }
        #expect(throws: Never.self) { try FilterRegistry([PassFactory.self]) }
    }

    @Test("listener and route filters are built into one chain per route, listener filters first")
    func chains() throws {
        let registry = try FilterRegistry([PassFactory.self])
        let config = try ConfigLoader.parse(yaml: """
            listeners:
              - name: public
                address: 127.0.0.1:8080
                filters: [ { pass: { level: 2 } } ]
                routes:
                  - match: { path_prefix: /a }
                    cluster: web
                    filters: [ { pass: }, { pass: { level: 3 } } ]
                  - match: { path_prefix: / }
                    cluster: web
            clusters:
              - name: web
                endpoints: [ { address: 127.0.0.1:9001 } ]
            """, file: ConfigFixture.file, filters: registry)
        let runtime = try GatewayRuntime(config: config)
        let listener = try #require(runtime.listeners.first)
        #expect(listener.filterChain.filters.map(\.name) == ["pass"])
        #expect(listener.routes.routes[0].filterChain.filters.count == 3)
        #expect(listener.routes.routes[1].filterChain.filters.count == 1)
        #expect(listener.routes.routes[0].filterChain.phases == .all)
    }

    @Test("a filter's own config errors carry file, line and key path")
    func located() {
        #expect {
            _ = try ConfigLoader.parse(yaml: """
                listeners:
                  - name: public
                    address: 127.0.0.1:8080
                    filters: [ { pass: { level: 12 } } ]
                    routes: [ { match: { path_prefix: / }, cluster: web } ]
                clusters: [ { name: web, endpoints: [ { address: 127.0.0.1:9001 } ] } ]
                """, file: ConfigFixture.file, filters: try FilterRegistry([PassFactory.self]))
        } throws: { error in
            guard let errors = error as? ConfigErrors, errors.errors.count == 1 else { return false }
            return errors.errors[0].description == "gateway.yaml:4:33: listeners[0].filters[0].pass.level: must be between 0 and 9, got 12"
        }
    }
}
