@testable import CORSFilter
import Testing

@Suite("cors origins")
struct CORSFilterConfigTests {
    @Test("exact origins match exactly; '*' matches any")
    func matching() {
        var config = CORSFilterConfig()
        config.allowOrigins = ["https://app.example.com"]
        #expect(config.allows(origin: "https://app.example.com"))
        #expect(!config.allows(origin: "https://app.example.com:8443"))
        #expect(!config.allows(origin: "http://app.example.com"))
        #expect(!config.allows(origin: "https://evil.example.com"))
        config.allowAnyOrigin = true
        #expect(config.allows(origin: "https://evil.example.com"))
    }

    @Test("'*' is answered as '*' without credentials and as the origin itself with them")
    func wildcardWithCredentials() {
        var config = CORSFilterConfig()
        config.allowAnyOrigin = true
        #expect(config.allowOriginValue(for: "https://a.example") == "*")
        config.allowCredentials = true
        #expect(config.allowOriginValue(for: "https://a.example") == "https://a.example")
    }
}
