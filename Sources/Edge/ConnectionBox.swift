/// A value a connection rarely has, kept out of line: an idle connection then pays one pointer for it
/// rather than the value's whole size (10,000 idle connections make every byte count tenfold in KiB).
final class ConnectionBox<Value> {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
