@testable import HeadersFilter
import HTTPTypes
import Testing

@Suite("headers filter edits")
struct HeadersFilterTests {
    @Test("remove, then set, then add: set replaces every value, add keeps the others")
    func order() throws {
        let name = try #require(HTTPField.Name("x-tag"))
        let other = try #require(HTTPField.Name("x-other"))
        var fields: HTTPFields = [name: "one", other: "keep"]
        fields.append(HTTPField(name: name, value: "two"))
        let edits = HeaderEdits(remove: [other], set: [HTTPField(name: name, value: "set")], add: [HTTPField(name: name, value: "added")])
        edits.apply(to: &fields)
        #expect(fields[values: name] == ["set", "added"])
        #expect(fields[other] == nil)
    }

    @Test("the path prefix rewrite keeps the rest of the path and the query", arguments: [
        ("/api/users?q=1", "/v1/users?q=1"),
        ("/api/", "/v1/"),
        ("/apiary", nil),
        ("/other/api/", nil),
    ])
    func prefix(_ path: String, _ expected: String?) {
        var config = HeadersFilterConfig()
        config.pathPrefixRewrite = ("/api/", "/v1/")
        #expect(config.rewrittenPath(path) == expected)
    }
}
