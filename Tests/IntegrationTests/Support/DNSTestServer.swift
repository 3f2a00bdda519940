import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A real (tiny) authoritative DNS server on 127.0.0.1 over UDP, answering A and AAAA questions from a
/// table the test changes while the gateway runs. Names not in the table get NXDOMAIN; `failing`
/// makes it answer SERVFAIL; `silent` makes it drop questions (a timeout for the client).
final class DNSTestServer: Sendable {
    struct Records: Sendable {
        var a: [String: [String]] = [:]
        var aaaa: [String: [String]] = [:]
        var failing = false
        var silent = false
        /// Answers leave this long after their question.
        var delayMilliseconds: Int64 = 0
    }

    let channel: Channel
    private let records: NIOLockedValueBox<Records>
    private let questions: NIOLockedValueBox<Int>

    var address: String { "127.0.0.1:\(channel.localAddress!.port!)" }
    /// Questions received so far (answered or dropped).
    var questionCount: Int { questions.withLockedValue { $0 } }

    private init(channel: Channel, records: NIOLockedValueBox<Records>, questions: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.records = records
        self.questions = questions
    }

    static func start(group: EventLoopGroup) async throws -> DNSTestServer {
        let records = NIOLockedValueBox(Records())
        let counter = NIOLockedValueBox(0)
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(records: records, questions: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return DNSTestServer(channel: channel, records: records, questions: counter)
    }

    func setA(_ name: String, _ addresses: [String]) { records.withLockedValue { $0.a[name] = addresses } }
    func setAAAA(_ name: String, _ addresses: [String]) { records.withLockedValue { $0.aaaa[name] = addresses } }
    func remove(_ name: String) { records.withLockedValue { $0.a[name] = nil; $0.aaaa[name] = nil } }
    func setFailing(_ failing: Bool) { records.withLockedValue { $0.failing = failing } }
    func setSilent(_ silent: Bool) { records.withLockedValue { $0.silent = silent } }
    func setDelay(milliseconds: Int64) { records.withLockedValue { $0.delayMilliseconds = milliseconds } }

    func stop() async { try? await channel.close() }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>

        let records: NIOLockedValueBox<Records>
        let questions: NIOLockedValueBox<Int>

        init(records: NIOLockedValueBox<Records>, questions: NIOLockedValueBox<Int>) {
            self.records = records
            self.questions = questions
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            questions.withLockedValue { $0 += 1 }
            let table = records.withLockedValue { $0 }
            guard !table.silent, let reply = Self.answer(envelope.data, table) else { return }
            let answer = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)
            guard table.delayMilliseconds > 0 else {
                context.writeAndFlush(wrapOutboundOut(answer), promise: nil)
                return
            }
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .milliseconds(table.delayMilliseconds)) {
                channel.writeAndFlush(answer, promise: nil)
            }
        }

        /// Parses the single question and builds the whole response, the answer names pointing back at
        /// the question (compression), as real servers do.
        static func answer(_ query: ByteBuffer, _ table: Records) -> ByteBuffer? {
            let bytes = Array(query.readableBytesView)
            guard bytes.count > 12 else { return nil }
            let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
            var position = 12
            var labels: [String] = []
            while position < bytes.count, bytes[position] > 0 {
                let length = Int(bytes[position])
                guard position + 1 + length <= bytes.count else { return nil }
                labels.append(String(decoding: bytes[(position + 1)..<(position + 1 + length)], as: UTF8.self))
                position += 1 + length
            }
            position += 1
            guard position + 4 <= bytes.count else { return nil }
            let type = UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
            let questionBytes = bytes[12..<(position + 4)]
            let name = labels.joined(separator: ".").lowercased()
            let known = table.a[name] != nil || table.aaaa[name] != nil
            let addresses = (type == 1 ? table.a[name] : type == 28 ? table.aaaa[name] : nil) ?? []
            var out = ByteBuffer()
            out.writeInteger(id)
            let rcode: UInt16 = table.failing ? 2 : known ? 0 : 3
            out.writeInteger(UInt16(0x8180) | rcode)
            out.writeInteger(UInt16(1))
            out.writeInteger(UInt16(table.failing ? 0 : addresses.count))
            out.writeInteger(UInt16(0))
            out.writeInteger(UInt16(0))
            out.writeBytes(questionBytes)
            guard !table.failing else { return out }
            for address in addresses {
                out.writeInteger(UInt16(0xC00C))
                out.writeInteger(type)
                out.writeInteger(UInt16(1))
                out.writeInteger(UInt32(1))
                if type == 1 {
                    let parts = address.split(separator: ".").compactMap { UInt8($0) }
                    out.writeInteger(UInt16(4))
                    out.writeBytes(parts)
                } else {
                    var storage = in6_addr()
                    _ = inet_pton(AF_INET6, address, &storage)
                    out.writeInteger(UInt16(16))
                    withUnsafeBytes(of: &storage) { out.writeBytes($0) }
                }
            }
            return out
        }
    }
}
