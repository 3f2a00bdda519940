@testable import GatewayCore
import HTTPTypes
import NIOCore
import Testing

@Suite("grpc-timeout values the gateway forwards")
struct GRPCTimeoutTests {
    @Test("milliseconds, rounded down; a coarser unit only past eight digits; never negative")
    func values() {
        #expect(GRPC.timeoutValue(.milliseconds(1999)) == "1999m")
        #expect(GRPC.timeoutValue(.microseconds(1_999_999)) == "1999m")
        #expect(GRPC.timeoutValue(.nanoseconds(999_999)) == "0m")
        #expect(GRPC.timeoutValue(.milliseconds(-5)) == "0m")
        #expect(GRPC.timeoutValue(.milliseconds(99_999_999)) == "99999999m")
        #expect(GRPC.timeoutValue(.milliseconds(100_000_000)) == "100000S")
        #expect(GRPC.timeoutValue(.hours(100_000)) == "6000000M")
    }

    @Test("what the gateway forwards reads back as the same deadline")
    func roundTrip() throws {
        for amount in [TimeAmount.milliseconds(250), .seconds(42), .hours(30_000)] {
            let value = GRPC.timeoutValue(amount)
            var request = HTTPRequest(method: .post, scheme: "http", authority: "api", path: "/svc/Call")
            request.headerFields[GRPC.timeoutName] = value
            let parsed = try #require(GRPC.timeout(request))
            #expect(parsed <= amount && parsed > amount - .seconds(60), "\(value)")
        }
    }
}
