import NIOCore
import Testing
@testable import LuaFilters

@Suite("Lua shared dictionaries")
struct LuaSharedDictTests {
    @Test("set, get, add and delete; add refuses an existing key")
    func basics() {
        let dict = LuaSharedDict.named("unit-basics-\(UInt64.random(in: 0...UInt64.max))")
        #expect(dict.get("a") == nil)
        #expect(dict.store("a", .string("x"), ttl: nil, onlyIfMissing: false) == .stored)
        #expect(dict.get("a") == .string("x"))
        #expect(dict.store("a", .int(1), ttl: nil, onlyIfMissing: true) == .exists)
        #expect(dict.store("b", .bool(true), ttl: nil, onlyIfMissing: true) == .stored)
        dict.delete("a")
        #expect(dict.get("a") == nil)
        #expect(dict.count() == 1)
    }

    @Test("entries expire after their TTL; add may then insert again")
    func ttl() {
        let dict = LuaSharedDict.named("unit-ttl-\(UInt64.random(in: 0...UInt64.max))")
        let start = NIODeadline.now()
        #expect(dict.store("k", .int(1), ttl: .seconds(1), onlyIfMissing: false, now: start) == .stored)
        #expect(dict.get("k", now: start + .milliseconds(999)) == .int(1))
        #expect(dict.get("k", now: start + .seconds(1)) == nil)
        #expect(dict.store("k", .int(2), ttl: nil, onlyIfMissing: true, now: start + .seconds(2)) == .stored)
    }

    @Test("incr starts at init with init_ttl, adds to numbers, refuses strings and missing keys without init")
    func increment() {
        let dict = LuaSharedDict.named("unit-incr-\(UInt64.random(in: 0...UInt64.max))")
        let start = NIODeadline.now()
        #expect(dict.increment("n", by: .int(1), initial: nil, initialTTL: nil) == .notFound)
        #expect(dict.increment("n", by: .int(1), initial: .int(0), initialTTL: .seconds(10), now: start) == .value(.int(1)))
        #expect(dict.increment("n", by: .int(5), initial: .int(0), initialTTL: nil, now: start) == .value(.int(6)))
        #expect(dict.increment("n", by: .double(0.5), initial: nil, initialTTL: nil, now: start) == .value(.double(6.5)))
        #expect(dict.increment("n", by: .int(1), initial: .int(0), initialTTL: nil, now: start + .seconds(11)) == .value(.int(1)))
        _ = dict.store("s", .string("x"), ttl: nil, onlyIfMissing: false)
        #expect(dict.increment("s", by: .int(1), initial: nil, initialTTL: nil) == .notANumber)
    }

    @Test("a full dictionary refuses new entries after purging expired ones")
    func bounded() {
        let dict = LuaSharedDict.named("unit-bounded-\(UInt64.random(in: 0...UInt64.max))", capacity: 1024)
        var stored = 0
        while dict.store("key-\(stored)", .string("0123456789"), ttl: nil, onlyIfMissing: false) == .stored { stored += 1 }
        #expect(stored > 5 && stored < 100)
        #expect(dict.bytesInUse <= 1024)
        #expect(dict.store("key-x\(stored)", .string("0123456789"), ttl: nil, onlyIfMissing: false) == .noMemory)
        dict.delete("key-0")
        #expect(dict.store("key-x\(stored)", .string("0123456789"), ttl: nil, onlyIfMissing: false) == .stored)
        #expect(dict.get("key-1") == .string("0123456789"))
    }
}
