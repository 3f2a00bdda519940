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
        edits.addedLines?.withUnsafeReadableBytes { bytes in
            var iterator = LineIterator(bytes)
            while let line = iterator.next(), !line.isEmpty {
                // Written by `HTTP1FieldEdits` from valid fields: nothing here can fail.
                guard let (field, _) = try? HTTP1Syntax.parseFieldLine(line) else { continue }
                fields.append(field)
            }
        }
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
                guard HTTP1FieldEdits.same(lineName, canonical) else { return }
                body(Self.value(of: line, nameLength: lineName.count))
            }
        }
        edits.addedLines?.forEachFieldLine { line, lineName in
            guard HTTP1FieldEdits.same(lineName, canonical) else { return }
            body(Self.value(of: line, nameLength: lineName.count))
        }
    }

    /// The value of a field line the parser (or `HTTP1FieldEdits`) has checked: after the colon, without
    /// the optional whitespace around it. No second validation of the line.
    @inline(__always)
    static func value(of line: UnsafeRawBufferPointer, nameLength: Int) -> UnsafeRawBufferPointer {
        var start = nameLength + 1
        var end = line.count
        while start < end, line[start] == 0x20 || line[start] == 0x09 { start += 1 }
        while end > start, line[end - 1] == 0x20 || line[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: line[start..<end])
    }

    /// Calls `body` with each field line (without CRLF) and its name.
    public func forEachLine(_ body: (_ line: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Void) {
        lines.forEachFieldLine(body)
    }

    /// Removes every field `name`: the received lines of it (recorded only if there are any, so setting a
    /// new field allocates no removal list) and the ones added before.
    public mutating func removeField(_ name: HTTPField.Name) {
        edits.remove(name, received: lines.hasFieldLine(named: name.canonicalName))
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
/// Added fields are kept as the lines they go upstream as (`Name: value` CRLF each), in one buffer made on
/// the first addition: writing the head copies them in one piece, and copying the edits (the proxy passes
/// them along by value) retains one buffer rather than every field's strings.
///
/// Names the proxy itself reads or rewrites are not taken (`accepts(_:)`): Host, framing and hop-by-hop
/// fields, the forwarding fields, Content-Type, Cookie. Edits of those need the fields built.
public struct HTTP1FieldEdits: Sendable {
    /// Canonical (lower-case) names whose received lines are left out.
    public private(set) var removed: [String] = []
    /// The added fields as field lines, each ending in CRLF; nil until the first.
    public private(set) var addedLines: ByteBuffer?

    public init() {}

    public var isEmpty: Bool { removed.isEmpty && addedLines == nil }

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
        if let lines = addedLines, lines.hasFieldLine(named: canonical) {
            addedLines = lines.removingFieldLines(named: canonical)
        }
        if received && !removes(canonical) {
            if removed.isEmpty { removed.reserveCapacity(4) }
            removed.append(canonical)
        }
    }

    public mutating func append(_ field: HTTPField) {
        appendLine { buffer in
            buffer.writeString(field.name.rawName)
            buffer.writeStaticString(": ")
            buffer.writeString(field.value)
        }
    }

    /// Adds `name` with a value given as bytes the caller has checked (`HTTPFieldBytes.isPlainValue` in the
    /// filter API): written as they are.
    public mutating func append(_ name: HTTPField.Name, plainValue: UnsafeRawBufferPointer) {
        appendLine { buffer in
            buffer.writeString(name.rawName)
            buffer.writeStaticString(": ")
            buffer.writeBytes(plainValue)
        }
    }

    /// The first added field will be written into `buffer` (emptied) rather than a new one: a caller that
    /// recycles these buffers saves two allocations (storage and bytes) per request whose filter adds a
    /// field. Nothing changes if a field was added already.
    public mutating func writeAddedLines(into buffer: consuming ByteBuffer) {
        guard addedLines == nil else { return }
        // Consumed, not copied: a second reference would make `clear()` allocate new storage.
        buffer.clear()
        addedLines = buffer
    }

    @inline(__always)
    private mutating func appendLine(_ write: (inout ByteBuffer) -> Void) {
        if addedLines == nil { addedLines = ByteBufferAllocator().buffer(capacity: 128) }
        write(&addedLines!)
        addedLines!.writeStaticString("\r\n")
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

extension ByteBuffer {
    /// Whether a field line of these (checked) lines has the name `canonicalName`.
    func hasFieldLine(named canonicalName: String) -> Bool {
        var found = false
        forEachFieldLine { _, name in
            if !found && HTTP1FieldEdits.same(name, canonicalName) { found = true }
        }
        return found
    }

    /// These lines without the ones named `canonicalName`; nil if none is left.
    func removingFieldLines(named canonicalName: String) -> ByteBuffer? {
        var kept = ByteBufferAllocator().buffer(capacity: readableBytes)
        forEachFieldLine { line, name in
            guard !HTTP1FieldEdits.same(name, canonicalName) else { return }
            kept.writeBytes(line)
            kept.writeStaticString("\r\n")
        }
        return kept.readableBytes > 0 ? kept : nil
    }
}
