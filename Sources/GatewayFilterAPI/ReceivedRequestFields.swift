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
    /// The fields as `HTTPFields`, with the edits made so far. Put them into the hook's `head.headerFields`:
    /// from here on the request keeps them there, and this object is not used again for it.
    func takeFields() -> HTTPFields
}

extension ReceivedRequestFields {
    public func replace(with field: HTTPField) -> Bool {
        guard remove(field.name) else { return false }
        return append(field)
    }
}
