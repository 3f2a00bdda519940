import GatewayFilterAPI
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A script file and its current text, shared by every event loop. Loops ask for the latest version at most
/// every `checkInterval`; the file is stat'ed then, and re-read when its stamp (mtime, size, inode) changed.
/// A lock guards it: it is touched once per interval per loop, never per request.
final class LuaScriptSource: Sendable {
    static let checkInterval = TimeAmount.milliseconds(200)

    let name: String
    let path: String
    private let conf: FilterConfigData
    private struct Current {
        var snapshot: LuaScriptSnapshot
        var stamp: FileStamp
        var lastCheck: NIODeadline
        /// The newest version that failed to compile, so the failure is logged once, not once per loop.
        var reportedFailure = 0
        var reportedReload = 1
        /// The newest version some loop compiled: a loop whose compile of a broken newer version fails falls
        /// back to this, not to whatever older version it happened to run.
        var lastGood: LuaScriptSnapshot?
    }
    private let current: NIOLockedValueBox<Current>

    struct FileStamp: Equatable {
        var modified: Int64
        var size: Int64
        var inode: UInt64
    }

    init(path: String, conf: FilterConfigData) throws {
        self.name = path
        self.path = path
        self.conf = conf
        guard let (text, stamp) = Self.read(path) else {
            throw FilterConfigError("cannot read the script '\(path)'")
        }
        let snapshot = LuaScriptSnapshot(name: path, text: text, version: 1, libraryDirectory: Self.directory(of: path) + "/lib", conf: conf)
        current = NIOLockedValueBox(Current(snapshot: snapshot, stamp: stamp, lastCheck: .now()))
    }

    /// The newest text, re-checking the file if the last check is older than the interval.
    func latest() -> LuaScriptSnapshot {
        current.withLockedValue { current in
            let now = NIODeadline.now()
            guard now - current.lastCheck >= Self.checkInterval else { return current.snapshot }
            current.lastCheck = now
            guard let stamp = Self.stamp(path), stamp != current.stamp, let (text, readStamp) = Self.read(path) else {
                return current.snapshot
            }
            current.stamp = readStamp
            if text != current.snapshot.text {
                current.snapshot.text = text
                current.snapshot.version += 1
            }
            return current.snapshot
        }
    }

    /// True the first time a version is reported as failing: the caller logs it.
    func firstFailure(of version: Int) -> Bool {
        current.withLockedValue { current in
            guard current.reportedFailure < version else { return false }
            current.reportedFailure = version
            return true
        }
    }

    /// Records a version that compiled on some loop.
    func compiled(_ snapshot: LuaScriptSnapshot) {
        current.withLockedValue { current in
            if snapshot.version > current.lastGood?.version ?? 0 { current.lastGood = snapshot }
        }
    }

    var lastGood: LuaScriptSnapshot? { current.withLockedValue { $0.lastGood } }

    /// True the first time a version is reported as loaded after a change.
    func firstReload(of version: Int) -> Bool {
        current.withLockedValue { current in
            guard current.reportedReload < version else { return false }
            current.reportedReload = version
            return true
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    static func stamp(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
        let modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
        #else
        let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        #endif
        return FileStamp(modified: modified, size: Int64(info.st_size), inode: UInt64(info.st_ino))
    }

    /// The whole file as text, with its stamp; nil if it cannot be read. Small files only (scripts).
    static func read(_ path: String) -> (String, FileStamp)? {
        guard let stamp = stamp(path) else { return nil }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > 4 << 20 { return nil }
        }
        return (String(decoding: bytes, as: UTF8.self), stamp)
    }
}
