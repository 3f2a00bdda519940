import GatewayFilterAPI
import HTTP1
import HTTPTypes

/// A request-head hook may read and edit an HTTP/1.1 request's fields while they are still the received
/// lines: the edits are kept with them (`HTTP1FieldEdits`) and applied when the head is written upstream,
/// or when something builds the fields (`request`, which every other reader of the fields goes through).
extension ProxyStream: ReceivedRequestFields {
    public func forEachValue(of name: HTTPField.Name, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard rawRequestFields != nil, HTTP1FieldEdits.readable(name) else { return false }
        rawRequestFields!.forEachValue(of: name, body)
        return true
    }

    public func remove(_ name: HTTPField.Name) -> Bool {
        guard rawRequestFields != nil, HTTP1FieldEdits.accepts(name) else { return false }
        rawRequestFields!.removeField(name)
        return true
    }

    public func append(_ field: HTTPField) -> Bool {
        guard rawRequestFields != nil, HTTP1FieldEdits.accepts(field.name) else { return false }
        prepareAddedLines()
        rawRequestFields!.edits.append(field)
        return true
    }

    public func replace(with field: HTTPField) -> Bool {
        guard rawRequestFields != nil, HTTP1FieldEdits.accepts(field.name) else { return false }
        rawRequestFields!.removeField(field.name)
        prepareAddedLines()
        rawRequestFields!.edits.append(field)
        return true
    }

    /// Bytes that are not a plain value (a CR or LF a filter passed by mistake would start a line of its own
    /// upstream) go through `HTTPField`, which makes them a valid value, as `replace(with:)` does.
    public func replace(_ name: HTTPField.Name, plainValue: UnsafeRawBufferPointer) -> Bool {
        guard HTTPFieldBytes.isPlainValue(plainValue) else { return replace(with: Self.field(name, plainValue)) }
        guard rawRequestFields != nil, HTTP1FieldEdits.accepts(name) else { return false }
        rawRequestFields!.removeField(name)
        prepareAddedLines()
        rawRequestFields!.edits.append(name, plainValue: plainValue)
        return true
    }

    public func append(_ name: HTTPField.Name, plainValue: UnsafeRawBufferPointer) -> Bool {
        guard HTTPFieldBytes.isPlainValue(plainValue) else { return append(Self.field(name, plainValue)) }
        guard rawRequestFields != nil, HTTP1FieldEdits.accepts(name) else { return false }
        prepareAddedLines()
        rawRequestFields!.edits.append(name, plainValue: plainValue)
        return true
    }

    /// The first added field goes into a buffer an earlier stream of this loop gave back (`dropRawRequestFields`).
    @inline(__always)
    private func prepareAddedLines() {
        if rawRequestFields!.edits.addedLines == nil, let spare = loop.spareFieldLines.popLast() {
            rawRequestFields!.edits.writeAddedLines(into: spare)
        }
    }

    /// Lets go of the received fields; the buffer a filter's added fields were written into goes back to
    /// the loop for the next stream's (the fields' only holder by now, so it is reused, not copied), unless
    /// a large addition grew it.
    func dropRawRequestFields() {
        if let lines = rawRequestFields?.edits.addedLines, lines.capacity <= LoopContext.maxSpareFieldLinesBytes,
           loop.spareFieldLines.count < LoopContext.maxSpareFieldLines {
            loop.spareFieldLines.append(lines)
        }
        rawRequestFields = nil
    }

    private static func field(_ name: HTTPField.Name, _ bytes: UnsafeRawBufferPointer) -> HTTPField {
        HTTPField(name: name, value: String(decoding: bytes, as: UTF8.self))
    }

    public func takeFields() -> HTTPFields {
        // Only `storedRequest` is under the hook's inout access here, so this touches just the raw fields.
        guard let raw = rawRequestFields else { return [:] }
        rawRequestFields = nil
        return raw.materialize()
    }
}
