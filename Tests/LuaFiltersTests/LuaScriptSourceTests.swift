import Foundation
import GatewayFilterAPI
import NIOCore
import Testing
@testable import LuaFilters

@Suite("Lua script source")
struct LuaScriptSourceTests {
    @Test("a changed file is a new version after the check interval; an unchanged one is not re-read")
    func picksUpChanges() throws {
        let path = NSTemporaryDirectory() + "source-\(UUID().uuidString).lua"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "function on_request() end -- v1".write(toFile: path, atomically: true, encoding: .utf8)
        let source = try LuaScriptSource(path: path, conf: .null)
        #expect(source.latest().version == 1)
        try "function on_request() end -- v2".write(toFile: path, atomically: true, encoding: .utf8)
        // Within the interval nothing is checked; after it, the new text is there.
        #expect(source.latest().version == 1)
        Thread.sleep(forTimeInterval: LuaScriptSource.checkInterval.seconds + 0.05)
        let snapshot = source.latest()
        #expect(snapshot.version == 2)
        #expect(snapshot.text.hasSuffix("v2"))
        Thread.sleep(forTimeInterval: LuaScriptSource.checkInterval.seconds + 0.05)
        #expect(source.latest().version == 2)
        #expect(source.firstFailure(of: 3))
        #expect(!source.firstFailure(of: 3))
        // The newest version that compiled anywhere is what a loop falls back to; older reports do not replace it.
        source.compiled(snapshot)
        var older = snapshot
        older.version = 1
        source.compiled(older)
        #expect(source.lastGood?.version == 2)
    }

    @Test("module names for require: dotted identifiers only")
    func moduleNames() {
        #expect(LuaGatewayAPI.isModuleName("stamp_util"))
        #expect(LuaGatewayAPI.isModuleName("auth.jwt"))
        for bad in ["", "../x", "/etc/passwd", "a..b", "a/b", ".a", "a.", "x y"] { #expect(!LuaGatewayAPI.isModuleName(bad), "\(bad)") }
    }

    @Test("query strings: percent-decoding with + as space, and encoding")
    func query() {
        let pairs = LuaQuery.parse("a=1%202&b=x+y&flag&c=%zz")
        #expect(pairs.map(\.name) == ["a", "b", "flag", "c"])
        #expect(pairs.map(\.value) == ["1 2", "x y", "", "%zz"])
        #expect(LuaQuery.encode([("k", "a b&c"), ("é", "/")]) == "k=a%20b%26c&%C3%A9=%2F")
    }
}

extension TimeAmount {
    var seconds: Double { Double(nanoseconds) / 1e9 }
}
