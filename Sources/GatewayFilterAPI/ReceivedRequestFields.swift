import HTTPTypes

/// An HTTP/1.1 request's header fields while the gateway still holds them as the lines it received. The
/// proxy forwards such a request as those bytes, without ever building `HTTPFields`; a filter that reads
/// or edits a few fields through this keeps it that way (see `HTTPFilter.onRequestHead(_:receivedFields:endStream:_:)`).
///
/// Reads see the edits made so far. A field this cannot read (Host, Cookie) or edit (also framing and
/// hop-by-hop fields, the forwarding fields the proxy rewrites, Content-Type) answers false: take the fields then.
public protocol ReceivedRequestFields: AnyObject {
    /// Calls `body` with each value of `name`, in order, as the request would go upstream now; false, without
    /// calling it, when this field must be read from `HTTPFields` (`takeFields()`).
    func forEachValue(of name: HTTPField.Name, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool
    /// Removes every field named `name`; false (nothing done) when only `HTTPFields` can.
    func remove(_ name: HTTPField.Name) -> Bool
    /// Adds a field after the others; false (nothing done) when only `HTTPFields` can.
    func append(_ field: HTTPField) -> Bool
    /// Makes `field` the only field of its name (`remove` then `append`, in one step); false (nothing done)
    /// when only `HTTPFields` can.
    func replace(with field: HTTPField) -> Bool
    /// `replace(with:)` for a value given as bytes, without making an `HTTPField` when
    /// `HTTPFieldBytes.isPlainValue` accepts them (a script's strings arrive as bytes); other bytes are made
    /// a valid value as `HTTPField` does. False (nothing done) when only `HTTPFields` can.
    func replace(_ name: HTTPField.Name, plainValue: UnsafeRawBufferPointer) -> Bool
    /// `append(_:)` for a value given as such bytes.
    func append(_ name: HTTPField.Name, plainValue: UnsafeRawBufferPointer) -> Bool
    /// The fields as `HTTPFields`, with the edits made so far. Put them into the hook's `head.headerFields`:
    /// from here on the request keeps them there, and this object is not used again for it.
    func takeFields() -> HTTPFields
}

extension ReceivedRequestFields {
    public func replace(with field: HTTPField) -> Bool {
        guard remove(field.name) else { return false }
        return append(field)
    }

    public func replace(_ name: HTTPField.Name, plainValue: UnsafeRawBufferPointer) -> Bool {
        replace(with: HTTPField(name: name, value: String(decoding: plainValue, as: UTF8.self)))
    }

    public func append(_ name: HTTPField.Name, plainValue: UnsafeRawBufferPointer) -> Bool {
        append(HTTPField(name: name, value: String(decoding: plainValue, as: UTF8.self)))
    }
}

/// Field values as bytes.
public enum HTTPFieldBytes {
    /// Whether `bytes` are a valid field value that needs no decoding: visible ASCII, with spaces and tabs
    /// only inside (RFC 9110 §5.5). Other bytes (obs-text, which `HTTPField` reads as UTF-8 and repairs)
    /// take the `HTTPField` path, so both ways give the same field.
    @inline(__always)
    public static func isPlainValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let first = bytes.first, let last = bytes.last else { return true }
        if first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 { return false }
        for byte in bytes where (byte < 0x20 && byte != 0x09) || byte >= 0x7F { return false }
        return true
    }
}
