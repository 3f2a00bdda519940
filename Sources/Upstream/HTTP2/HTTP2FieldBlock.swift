import CNGHTTP2

/// The header list of one HEADERS frame, built for nghttp2: all bytes in one reused storage, and the
/// `nghttp2_nv` array pointing into it only for the duration of a submit call (nghttp2 copies them).
/// Names must already be lower case (HTTP/2 requires it; `canonicalName` is).
struct HTTP2FieldBlock {
    private var storage: [UInt8] = []
    private var entries: [(nameStart: Int, nameLength: Int, valueStart: Int, valueLength: Int)] = []
    private var nv: [nghttp2_nv] = []

    init() {
        storage.reserveCapacity(1024)
        entries.reserveCapacity(16)
        nv.reserveCapacity(16)
    }

    mutating func reset() {
        storage.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
    }

    mutating func append(name: String, value: String) {
        let nameStart = storage.count
        storage.append(contentsOf: name.utf8)
        let valueStart = storage.count
        storage.append(contentsOf: value.utf8)
        entries.append((nameStart, valueStart - nameStart, valueStart, storage.count - valueStart))
    }

    /// Calls `body` with the `nghttp2_nv` array; the pointers are valid only inside it.
    mutating func withNV(_ body: (UnsafePointer<nghttp2_nv>, Int) -> Int32) -> Int32 {
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
}
