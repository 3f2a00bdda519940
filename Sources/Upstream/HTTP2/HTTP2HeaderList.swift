import CNGHTTP2

/// Builds the header list of a HEADERS frame: names lowercased as HTTP/2 requires, all bytes in one
/// reused storage, and the `nghttp2_nv` array pointing into it only for the duration of a submit call
/// (nghttp2 copies them). Used for the requests the upstream client sends and the responses the edge
/// server sends.
public struct HTTP2HeaderList {
    private var storage: [UInt8] = []
    private var entries: [(nameStart: Int, nameLength: Int, valueStart: Int, valueLength: Int)] = []
    private var nv: [nghttp2_nv] = []

    public init() {
        storage.reserveCapacity(1024)
        entries.reserveCapacity(16)
    }

    public mutating func reset() {
        storage.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    public var isEmpty: Bool { entries.isEmpty }

    public mutating func append(name: String, value: String) {
        let nameStart = storage.count
        for byte in name.utf8 { storage.append(Self.lowercase(byte)) }
        let valueStart = storage.count
        storage.append(contentsOf: value.utf8)
        entries.append((nameStart, valueStart - nameStart, valueStart, storage.count - valueStart))
    }

    /// `:status` with a three-digit code, written as digits without building a String.
    public mutating func appendStatus(_ code: Int) {
        guard (100...999).contains(code) else {
            append(name: ":status", value: String(code))
            return
        }
        let nameStart = storage.count
        let name: StaticString = ":status"
        storage.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        let valueStart = storage.count
        storage.append(UInt8(truncatingIfNeeded: 0x30 + code / 100))
        storage.append(UInt8(truncatingIfNeeded: 0x30 + code / 10 % 10))
        storage.append(UInt8(truncatingIfNeeded: 0x30 + code % 10))
        entries.append((nameStart, valueStart - nameStart, valueStart, 3))
    }

    /// An HTTP/1 field line `Name: value` as received (already validated by the parser).
    public mutating func appendRawLine(_ line: UnsafeRawBufferPointer) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        var start = colon + 1
        var end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        let nameStart = storage.count
        let valueStart = nameStart + colon
        // Both parts in one copy each, the name lower-cased in place: no per-byte append.
        storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[..<colon]))
        storage.withUnsafeMutableBufferPointer { bytes in
            for index in nameStart..<valueStart { bytes[index] = Self.lowercase(bytes[index]) }
        }
        storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[start..<end]))
        entries.append((nameStart, colon, valueStart, end - start))
    }

    /// Calls `body` with the `nghttp2_nv` array; the pointers are valid only inside it.
    public mutating func withNV<R>(_ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        let entries = self.entries
        var nv = self.nv
        self.nv = []
        defer {
            nv.removeAll(keepingCapacity: true)
            self.nv = nv
        }
        return storage.withUnsafeMutableBufferPointer { bytes in
            let base = bytes.baseAddress!
            for entry in entries {
                nv.append(nghttp2_nv(name: base + entry.nameStart, value: base + entry.valueStart,
                                     namelen: entry.nameLength, valuelen: entry.valueLength,
                                     flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
            }
            return nv.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }

    private static func lowercase(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }
}
