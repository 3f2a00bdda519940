import NIOCore
import Testing
import Upstream

@Suite("DNS wire format: queries and answers")
struct DNSMessageTests {
    /// A response to `query` with the given records, names compressed to the question (offset 12).
    private static func response(to query: ByteBuffer, rcode: UInt16 = 0, records: [(type: UInt16, ttl: UInt32, data: [UInt8])]) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(query.getInteger(at: 0, as: UInt16.self)!)
        out.writeInteger(UInt16(0x8180) | rcode)
        out.writeInteger(UInt16(1))
        out.writeInteger(UInt16(records.count))
        out.writeInteger(UInt16(0))
        out.writeInteger(UInt16(0))
        var question = query.getSlice(at: 12, length: query.readableBytes - 12)!
        out.writeBuffer(&question)
        for record in records {
            out.writeInteger(UInt16(0xC00C))
            out.writeInteger(record.type)
            out.writeInteger(UInt16(1))
            out.writeInteger(record.ttl)
            out.writeInteger(UInt16(record.data.count))
            out.writeBytes(record.data)
        }
        return out
    }

    @Test("a query carries the id, recursion desired, the name as labels, the type and class IN")
    func queryLayout() {
        let query = DNSMessage.query(id: 0xBEEF, name: "api.svc.test", type: .aaaa)
        let bytes = Array(query.readableBytesView)
        #expect(Array(bytes[0..<4]) == [0xBE, 0xEF, 0x01, 0x00])
        #expect(Array(bytes[12...]) == [3] + Array("api".utf8) + [3] + Array("svc".utf8) + [4] + Array("test".utf8) + [0, 0, 28, 0, 1])
    }

    @Test("A answers are read, CNAME records skipped, TTLs kept")
    func readsAddresses() throws {
        let query = DNSMessage.query(id: 7, name: "api.test", type: .a)
        let cname: [UInt8] = [3] + Array("www".utf8) + [0xC0, 0x0C]
        let reply = Self.response(to: query, records: [(5, 60, cname), (1, 30, [10, 0, 0, 1]), (1, 30, [10, 0, 0, 2])])
        let answers = try DNSMessage.parseAnswers(reply, id: 7, type: .a)
        #expect(answers == [.init(address: "10.0.0.1", ttlSeconds: 30), .init(address: "10.0.0.2", ttlSeconds: 30)])
    }

    @Test("AAAA answers become IPv6 text that SocketAddress accepts")
    func readsIPv6() throws {
        let query = DNSMessage.query(id: 9, name: "api.test", type: .aaaa)
        let reply = Self.response(to: query, records: [(28, 5, [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])])
        let answers = try DNSMessage.parseAnswers(reply, id: 9, type: .aaaa)
        #expect(answers.map(\.address) == ["2001:db8:0:0:0:0:0:1"])
        #expect((try? SocketAddress(ipAddress: answers[0].address, port: 80)) != nil)
    }

    @Test("NXDOMAIN is an empty answer; SERVFAIL, another id, a query and truncation are errors")
    func errors() {
        let query = DNSMessage.query(id: 3, name: "gone.test", type: .a)
        #expect((try? DNSMessage.parseAnswers(Self.response(to: query, rcode: 3, records: []), id: 3, type: .a)) == [])
        #expect(throws: DNSMessage.ParseError.serverError(rcode: 2)) { try DNSMessage.parseAnswers(Self.response(to: query, rcode: 2, records: []), id: 3, type: .a) }
        #expect(throws: DNSMessage.ParseError.idMismatch) { try DNSMessage.parseAnswers(Self.response(to: query, records: []), id: 4, type: .a) }
        #expect(throws: DNSMessage.ParseError.notAResponse) { try DNSMessage.parseAnswers(query, id: 3, type: .a) }
        var cut = Self.response(to: query, records: [(1, 30, [10, 0, 0, 1])])
        cut.moveWriterIndex(to: cut.writerIndex - 2)
        #expect(throws: DNSMessage.ParseError.truncatedMessage) { try DNSMessage.parseAnswers(cut, id: 3, type: .a) }
    }

    @Test("a name that never ends is refused, not read past the message")
    func endlessName() {
        var reply = ByteBuffer()
        reply.writeInteger(UInt16(5))
        reply.writeInteger(UInt16(0x8180))
        reply.writeInteger(UInt16(1))
        reply.writeInteger(UInt16(0))
        reply.writeInteger(UInt32(0))
        for _ in 0..<200 { reply.writeBytes([1, 0x61]) }
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseAnswers(reply, id: 5, type: .a) }
    }
}
