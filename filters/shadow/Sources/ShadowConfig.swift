import HTTPTypes
import NIOCore

/// Which requests are mirrored, where, and within which bounds.
public struct ShadowConfig: Sendable {
    var cluster: String = ""
    /// Share of (matching) requests mirrored, 0...100.
    var percent: Double = 100
    /// Mirror only requests carrying this header (with this value, if given).
    var matchHeader: (name: HTTPField.Name, value: String?)?
    /// Request bodies up to this size are mirrored; a larger request is not (and is counted).
    var maxBodyBytes: Int = 64 * 1024
    var timeout: TimeAmount = .seconds(5)
    /// Shadow requests in flight in the whole process; beyond, new ones are dropped (never queued).
    var maxInFlight: Int = 256
    /// Marks the copy so the shadow service (and its logs) can tell it apart.
    var tag: HTTPField = HTTPField(name: HTTPField.Name("x-shadow")!, value: "1")
    /// Host of the copy; nil keeps the primary's (appending `-shadow` breaks many apps).
    var hostRewrite: String?
}
