import Foundation

extension RawClient {
    /// Reads one response and notes when each piece arrived (seconds since `start`), for tests of how a
    /// response is paced. Stops once the head and `Content-Length` body bytes are in, or on close/timeout.
    func readTimedResponse(since start: Date) -> (response: RawResponse?, arrivals: [(seconds: Double, bytes: Int)]) {
        var data: [UInt8] = []
        var arrivals: [(Double, Int)] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let (response, _) = RawResponse.parse(data) { return (response, arrivals) }
            let count = recv(fdForTests, &buffer, buffer.count, 0)
            guard count > 0 else { return (nil, arrivals) }
            arrivals.append((Date().timeIntervalSince(start), count))
            data.append(contentsOf: buffer[0..<count])
        }
    }
}

/// Tests hand a client to one task at a time (e.g. one reader per connection in a task group).

