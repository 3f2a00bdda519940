import Foundation
import Testing

@Suite("SO_REUSEPORT listeners")
struct ReusePortTests {
    static func config(port: Int, reusePort: Bool?) -> String {
        simpleConfig().replacingOccurrences(of: "address: 127.0.0.1:0", with: "address: 127.0.0.1:\(port)")
            .replacingOccurrences(of: "    routes:", with: (reusePort.map { "    reuse_port: \($0)\n" } ?? "") + "    routes:")
    }

    @Test("two gateways share a port by default (binary upgrades), and both serve it")
    func shared() async throws {
        let port = try TestGateway.closedPort()
        let first = try await TestGateway.start(Self.config(port: port, reusePort: nil))
        let second = try await TestGateway.start(Self.config(port: port, reusePort: nil))
        var statuses: [Int] = []
        for index in 0..<20 { statuses.append(try curl(["http://127.0.0.1:\(port)/r\(index)"]).status) }
        let firstLines = try await first.accessLog(atLeast: 0, within: 0).count
        let secondLines = try await second.accessLog(atLeast: 0, within: 0).count
        await first.stop()
        await second.stop()
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(firstLines + secondLines >= 1)
    }

    @Test("with reuse_port: false a second gateway cannot bind the port")
    func exclusive() async throws {
        let port = try TestGateway.closedPort()
        let first = try await TestGateway.start(Self.config(port: port, reusePort: false))
        var secondFailed = false
        do {
            let second = try await TestGateway.start(Self.config(port: port, reusePort: false))
            await second.stop()
        } catch {
            secondFailed = true
        }
        await first.stop()
        #expect(secondFailed)
    }
}
