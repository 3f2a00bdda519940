import HTTPTypes
@testable import TarpitFilter
import Testing

@Suite("tarpit header patterns")
struct HeaderPatternTests {
    @Test("globs match case-insensitively with * and ?")
    func globs() {
        func match(_ pattern: String, _ text: String) -> Bool {
            HeaderPattern.glob(Array(pattern.lowercased().utf8)[...], Array(text.lowercased().utf8)[...])
        }
        #expect(match("*sqlmap*", "Mozilla sqlmap/1.7"))
        #expect(match("*", ""))
        #expect(match("curl/?.*", "curl/8.1"))
        #expect(!match("curl/?.*", "curl/10.1"))
        #expect(match("a*b*c", "aXXbYYc"))
        #expect(!match("a*b*c", "aXXbYY"))
        #expect(!match("bot", "robot"))
        // Many stars against a long text stay fast (one backtrack point).
        #expect(!match(String(repeating: "*a", count: 50) + "b", String(repeating: "a", count: 10_000)))
    }

    @Test("a pattern matches any of the field's values")
    func fields() {
        let pattern = HeaderPattern(name: .userAgent, pattern: "*Scanner*")
        var fields = HTTPFields()
        fields.append(HTTPField(name: .userAgent, value: "ok"))
        #expect(!pattern.matches(fields))
        fields.append(HTTPField(name: .userAgent, value: "EvilScanner 2"))
        #expect(pattern.matches(fields))
    }
}
