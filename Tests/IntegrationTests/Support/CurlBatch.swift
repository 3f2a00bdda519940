import Foundation

/// Runs the URLs' GETs with curl's parallel mode (`parallel` connections at once) and returns the status
/// codes in order, plus how long the whole run took.
func curlParallel(_ urls: [String], parallel: Int = 50, extra: [String] = []) throws -> (statuses: [Int], seconds: Double) {
    let started = Date()
    var arguments = ["curl", "-s", "-Z", "--parallel-max", String(parallel), "--max-time", "30"] + extra
    for url in urls { arguments += ["-o", "/dev/null", "-w", "%{http_code}\n", url] }
    let output = try run("/usr/bin/env", arguments)
    let statuses = output.stdout.split(separator: "\n").compactMap { Int($0) }
    return (statuses, Date().timeIntervalSince(started))
}

/// Runs several requests, one after another, in one curl process (`--next` between them; each item is
/// that request's own arguments and URL); returns their status codes.
func curlSequence(_ requests: [[String]]) throws -> [Int] {
    var arguments = ["curl", "-s", "--max-time", "30"]
    for (index, request) in requests.enumerated() {
        if index > 0 { arguments.append("--next") }
        arguments += ["-o", "/dev/null", "-w", "%{http_code}\n"] + request
    }
    let output = try run("/usr/bin/env", arguments)
    return output.stdout.split(separator: "\n").compactMap { Int($0) }
}
