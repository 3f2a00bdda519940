#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPTypes
import NIOCore

/// A request's field lines kept as received, for a proxy that forwards them as bytes.
///
/// Building `HTTPFields` for every request (a `String` per name and value, an array, an index) is most of
/// what parsing a small request costs; a request whose route has no filters needs only a handful of
/// values, which the parser notes here while it checks the lines. Anything that needs the fields
/// themselves (a filter, an HTTP/2 upstream) calls `materialize()` once.
public struct HTTP1RawRequestFields: Sendable {
    /// The field lines after the request line, each ending in CRLF (checked by the parser), `Host` included.
    public var lines: ByteBuffer

    /// The first `X-Request-Id` value.
    public var requestID: String?
    /// Every `X-Forwarded-For` value, joined with ", " as `HTTPFields` would.
    public var forwardedFor: String?
    /// The first `traceparent` value.
    public var traceparent: String?
    /// The first `Content-Type` value (gRPC detection).
    public var contentType: String?
    /// `TE` lists `trailers`, the one TE value a proxy forwards.
    public var asksForTrailers = false
    /// `Connection` names fields besides `close` and `keep-alive`: those must be removed too, which the
    /// structured path (`HopByHop.strip`) does.
    public var connectionNominatesFields = false
    /// Edits a filter made without building the fields: applied by `materialize()` and when the head is
    /// written from these lines.
    public var edits = HTTP1FieldEdits()

    public init(lines: ByteBuffer) { self.lines = lines }

    /// The fields as `HTTPFields`, without `Host` (requests carry it as `authority`).
    public func materialize() -> HTTPFields {
        var fields = HTTPFields()
        lines.withUnsafeReadableBytes { bytes in
            // One allocation for the field array instead of a growth step every few fields.
            var lineCount = 0
            for byte in bytes where byte == 0x0A { lineCount += 1 }
            fields.reserveCapacity(lineCount)
            var iterator = LineIterator(bytes)
            while let line = iterator.next(), !line.isEmpty {
                // The parser checked every line; nothing here can fail.
                guard let (field, known) = try? HTTP1Syntax.parseFieldLine(line), known != .host else { continue }
                if !edits.removed.isEmpty, edits.removes(field.name.canonicalName) { continue }
                fields.append(field)
            }
        }
        fields.append(contentsOf: edits.added)
        return fields
    }

    /// Calls `body` with each value of `name` (trimmed, as `HTTPFields` would hold it) in the order the
    /// request goes upstream: the received ones a removal left, then the added ones. Only for names that
    /// `HTTP1FieldEdits.readable(_:)` allows (not Host, not Cookie). (`mutating` only so that a holder
    /// keeping the fields in a class property reads them in place, without copying them; nothing changes.)
    public mutating func forEachValue(of name: HTTPField.Name, _ body: (UnsafeRawBufferPointer) -> Void) {
        let canonical = name.canonicalName
        if !edits.removes(canonical) {
            lines.forEachFieldLine { line, lineName in
                guard HTTP1FieldEdits.same(lineName, canonical),
                      let parts = try? HTTP1Syntax.splitFieldLine(line[...]) else { return }
                body(parts.value)
            }
        }
        edits.added.forEach { field in
            guard HTTP1FieldEdits.same(field.name.canonicalName, canonical) else { return }
            field.withUnsafeBytesOfValue { body(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Calls `body` with each field line (without CRLF) and its name.
    public func forEachLine(_ body: (_ line: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Void) {
        lines.forEachFieldLine(body)
    }

    /// Removes every field `name`: the received lines of it (recorded only if there are any, so setting a
    /// new field allocates no removal list) and the ones added before.
    public mutating func removeField(_ name: HTTPField.Name) {
        let canonical = name.canonicalName
        var received = false
        lines.forEachFieldLine { _, lineName in
            if !received && HTTP1FieldEdits.same(lineName, canonical) { received = true }
        }
        edits.remove(name, received: received)
    }
}

extension ByteBuffer {
    /// Calls `body` with each field line of a checked head section (without CRLF) and its name.
    func forEachFieldLine(_ body: (_ line: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Void) {
        withUnsafeReadableBytes { bytes in
            var iterator = LineIterator(bytes)
            while let line = iterator.next(), !line.isEmpty {
                let text = UnsafeRawBufferPointer(rebasing: line)
                guard let colon = memchr(text.baseAddress!, Int32(UInt8(ascii: ":")), text.count) else { continue }
                body(text, UnsafeRawBufferPointer(start: text.baseAddress, count: text.baseAddress!.distance(to: UnsafeRawPointer(colon))))
            }
        }
    }
}

/// Header edits made while a request's fields are still the lines received (`HTTP1RawRequestFields`): a
/// filter's set / add / remove. A removal leaves out every received line of the name (and drops fields
/// added before it); added fields follow the received lines. So the result per name is what the same edits
/// give on `HTTPFields`; only the position of a set field among other names differs (it goes last).
///
/// Names the proxy itself reads or rewrites are not taken (`accepts(_:)`): Host, framing and hop-by-hop
/// fields, the forwarding fields, Content-Type, Cookie. Edits of those need the fields built.
public struct HTTP1FieldEdits: Sendable {
    /// Canonical (lower-case) names whose received lines are left out.
    public private(set) var removed: [String] = []
    public private(set) var added = AddedFields()

    public init() {}

    public var isEmpty: Bool { removed.isEmpty && added.isEmpty }

    /// Whether `HTTP1RawRequestFields.forEachValue(of:_:)` reads `name` as `HTTPFields` would: not Host
    /// (the fields leave it to the authority), not Cookie (joined with "; " there). The proxy's own fields
    /// are read as received: no edit here changes them.
    public static func readable(_ name: HTTPField.Name) -> Bool {
        let count = name.canonicalName.utf8.count
        if count == 4 { return name.canonicalName != "host" }
        if count == 6 { return name.canonicalName != "cookie" }
        return true
    }

    /// Whether edits of `name` can be kept here rather than in `HTTPFields`.
    public static func accepts(_ name: HTTPField.Name) -> Bool {
        let canonical = name.canonicalName
        return canonical.utf8.withContiguousStorageIfAvailable { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            switch raw.count {
            case 6: return !HTTP1FieldNames.same(raw, "cookie")
            case 11: return !HTTP1FieldNames.same(raw, "traceparent")
            case 12: return !HTTP1FieldNames.same(raw, "x-request-id") && !HTTP1FieldNames.same(raw, "content-type")
            case 15: return !HTTP1FieldNames.same(raw, "x-forwarded-for")
            case 17: return !HTTP1FieldNames.same(raw, "x-forwarded-proto") && HTTP1FieldNames.classify(raw) == .other
            default: return HTTP1FieldNames.classify(raw) == .other
            }
        } ?? false
    }

    /// Every field `name` goes; later additions of it stay. `received`: whether a received line has the
    /// name; a name the client did not send (a filter setting a new field) needs no removal entry.
    public mutating func remove(_ name: HTTPField.Name, received: Bool = true) {
        let canonical = name.canonicalName
        if !added.isEmpty, added.contains(where: { Self.same($0.name.canonicalName, canonical) }) {
            added.removeAll { Self.same($0.name.canonicalName, canonical) }
        }
        if received && !removes(canonical) {
            if removed.isEmpty { removed.reserveCapacity(4) }
            removed.append(canonical)
        }
    }

    public mutating func append(_ field: HTTPField) {
        added.append(field)
    }

    @inline(__always)
    func removes(_ canonicalName: String) -> Bool {
        for name in removed where Self.same(name, canonicalName) { return true }
        return false
    }

    /// Canonical names, the length compared first (inline for small strings): most names differ in length,
    /// and `String ==` on two different small strings takes a slow out-of-line path.
    @inline(__always)
    static func same(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a == b
    }

    /// Whether a received line's name (any case) is one of the removed names.
    @inline(__always)
    func removes(rawName: UnsafeRawBufferPointer) -> Bool {
        for name in removed where Self.same(rawName, name) { return true }
        return false
    }

    /// A received name (any case) against a canonical (lower-case) one.
    @inline(__always)
    static func same(_ rawName: UnsafeRawBufferPointer, _ canonicalName: String) -> Bool {
        let utf8 = canonicalName.utf8
        guard utf8.count == rawName.count else { return false }
        var index = 0
        for expected in utf8 {
            let byte = rawName[index]
            if (byte >= 65 && byte <= 90 ? byte + 32 : byte) != expected { return false }
            index += 1
        }
        return true
    }
}

extension HTTP1FieldEdits {
    /// The fields a filter added, in order. The first two are kept inline: most filters add one or two, and
    /// an array for them was an allocation per request.
    public struct AddedFields: Sendable, Sequence {
        private var first: HTTPField?
        private var second: HTTPField?
        private var more: [HTTPField] = []

        public init() {}

        public var isEmpty: Bool { first == nil }
        public var count: Int { first == nil ? 0 : second == nil ? 1 : 2 + more.count }

        public subscript(index: Int) -> HTTPField {
            switch index {
            case 0: first!
            case 1: second!
            default: more[index - 2]
            }
        }

        public mutating func append(_ field: HTTPField) {
            if first == nil {
                first = field
            } else if second == nil {
                second = field
            } else {
                if more.isEmpty { more.reserveCapacity(4) }
                more.append(field)
            }
        }

        /// Calls `body` with each field in order (no iterator copies of the inline fields).
        @inline(__always)
        public func forEach(_ body: (borrowing HTTPField) -> Void) {
            guard let first else { return }
            body(first)
            guard let second else { return }
            body(second)
            for field in more { body(field) }
        }

        @inline(__always)
        public func contains(where predicate: (borrowing HTTPField) -> Bool) -> Bool {
            guard let first else { return false }
            if predicate(first) { return true }
            guard let second else { return false }
            if predicate(second) { return true }
            return more.contains { predicate($0) }
        }

        /// Removes the fields `shouldRemove` picks, keeping the order of the others.
        public mutating func removeAll(where shouldRemove: (HTTPField) -> Bool) {
            let kept = filter { !shouldRemove($0) }
            self = AddedFields()
            for field in kept { append(field) }
        }

        public func makeIterator() -> Iterator { Iterator(fields: self) }

        public struct Iterator: IteratorProtocol {
            let fields: AddedFields
            var index = 0

            public mutating func next() -> HTTPField? {
                guard index < fields.count else { return nil }
                defer { index += 1 }
                return fields[index]
            }
        }
    }
}
