import Foundation
@testable import GatewayCore
import Testing

@Suite("Request ids")
struct RequestIDGeneratorTests {
    @Test("request ids are distinct, lowercase, version-4 RFC 4122 UUIDs")
    func versionFourUUIDs() throws {
        var generator = RequestIDGenerator()
        let ids = (0..<2000).map { _ in generator.next() }
        #expect(Set(ids).count == ids.count)
        let hex = Set("0123456789abcdef")
        for id in ids {
            let characters = Array(id)
            try #require(characters.count == 36, "\(id)")
            for (index, character) in characters.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    #expect(character == "-", "\(id)")
                } else {
                    #expect(hex.contains(character), "\(id)")
                }
            }
            #expect(characters[14] == "4", "version nibble of \(id)")
            #expect("89ab".contains(characters[19]), "variant nibble of \(id)")
            #expect(UUID(uuidString: id) != nil)
        }
    }

    @Test("two generators do not produce the same ids")
    func independentGenerators() {
        var first = RequestIDGenerator()
        var second = RequestIDGenerator()
        let a = Set((0..<100).map { _ in first.next() })
        let b = Set((0..<100).map { _ in second.next() })
        #expect(a.isDisjoint(with: b))
    }
}
