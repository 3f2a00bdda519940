import Foundation

/// Runs the URLs' GETs with curl's parallel mode (`parallel` connections at once) and returns the status
/// codes in order, plus how long the whole run took. The URLs go through a config file (`-K`): a few
/// hundred arguments to one Process have crashed Foundation's spawn under load.
func curlParallel(_ urls: [String], parallel: Int = 50, extra: [String] = []) async throws -> (statuses: [Int], seconds: Double) {
    let config = urls.map { "url = \"\($0)\"\noutput = \"/dev/null\"\n" }.joined()
    let started = Date()
    let statuses = try await offPool { try runCurlConfig(config, ["-Z", "--parallel-max", String(parallel)] + extra) }
    return (statuses, Date().timeIntervalSince(started))
}

/// Runs several requests, one after another, in one curl process (`next` between them); each item is a
/// request's headers and its URL. Returns their status codes.
func curlSequence(_ requests: [(headers: [String], url: String)]) async throws -> [Int] {
    let config = requests.map { request in
        request.headers.map { "header = \"\($0)\"\n" }.joined() + "url = \"\(request.url)\"\noutput = \"/dev/null\"\nwrite-out = \"%{http_code}\\\\n\"\n"
    }.joined(separator: "next\n")
    return try await offPool { try runCurlConfig(config, []) }
}

private func runCurlConfig(_ config: String, _ arguments: [String]) throws -> [Int] {
    let path = NSTemporaryDirectory() + "curl-batch-\(UUID().uuidString).conf"
    try config.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let output = try run("/usr/bin/env", ["curl", "-s", "--max-time", "30", "-w", "%{http_code}\n"] + arguments + ["-K", path])
    return output.stdout.split(separator: "\n").compactMap { Int($0) }
}
