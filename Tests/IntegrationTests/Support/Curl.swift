import Foundation
import Testing

/// Runs the real curl binary (an independent HTTP client) and returns its output.
struct CurlResult {
    var status: Int
    var headers: String
    var body: String
    var exitCode: Int32

    func header(_ name: String) -> String? {
        for line in headers.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == name.lowercased() {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// Every value of a response field, in order of appearance.
    func headerValues(_ name: String) -> [String] {
        headers.components(separatedBy: "\r\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name.lowercased() else { return nil }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
    }
}

func curl(_ arguments: [String], stdin: String? = nil) throws -> CurlResult {
    let headerFile = NSTemporaryDirectory() + "curl-headers-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: headerFile) }
    let output = try run("/usr/bin/env", ["curl", "-sS", "--max-time", "30", "-D", headerFile, "-w", "\n%{http_code}"] + arguments, stdin: stdin)
    var body = output.stdout
    let newline = body.lastIndex(of: "\n") ?? body.startIndex
    let status = Int(body[body.index(after: newline)...]) ?? 0
    body = String(body[..<newline])
    let headers = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
    return CurlResult(status: status, headers: headers, body: body, exitCode: output.exitCode)
}

struct ProcessOutput {
    var stdout: String
    var stderr: String
    var exitCode: Int32
}

/// Runs a process to completion (bounded by the tools' own timeouts) and captures its output.
func run(_ executable: String, _ arguments: [String], stdin: String? = nil, shell: Bool = false) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessOutput(stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self), exitCode: process.terminationStatus)
}

/// A shell pipeline, for streaming large bodies (`head -c 1G /dev/zero | curl -T - ...`).
func shell(_ command: String) throws -> ProcessOutput {
    try run("/bin/bash", ["-c", command])
}

/// The package's root folder, from this file's location.
let packageRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()

/// A product built into the same folder as the running test bundle (`.build/debug`, or a `--scratch-path`).
func builtBinary(_ name: String) -> String {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let directory = URL(fileURLWithPath: executable).deletingLastPathComponent().path
    let candidate = directory + "/" + name
    return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : packageRoot + "/.build/debug/" + name
}

/// `portcullis check` failed with exactly the `expected` errors: each a (line, text) of `path` found in a
/// stderr line as `path:line:` plus the text (columns depend on temporary paths' lengths, so they are not compared).
func expectCheckErrors(_ output: ProcessOutput, path: String, _ expected: [(Int, String)],
                       sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(output.exitCode == 2, sourceLocation: sourceLocation)
    let lines = output.stderr.split(separator: "\n")
    for (number, text) in expected {
        #expect(lines.contains { $0.contains("\(path):\(number):") && $0.contains(text) }, "\(number): \(text)\n---\n\(output.stderr)",
                sourceLocation: sourceLocation)
    }
    #expect(lines.count == expected.count, "\(output.stderr)", sourceLocation: sourceLocation)
}
