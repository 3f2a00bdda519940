@testable import HTTP1
import Testing

@Suite("Dot-segments")
struct DotSegmentTests {
    @Test("paths with dot-segments are refused; dots inside names are not", arguments: [
        ("/a/../b", true), ("/a/./b", true), ("/..", true), ("/a/%2E%2e/b", true), ("/a/%2e", true),
        ("/a/..b/c", false), ("/a.b/c", false), ("/.well-known/x", false), ("/a?x=/../", false), ("/...", false),
    ])
    func dotSegments(path: String, refused: Bool) {
        let result = Array(path.utf8).withUnsafeBytes { HTTP1Syntax.hasDotSegment($0) }
        #expect(result == refused, "\(path)")
    }
}
