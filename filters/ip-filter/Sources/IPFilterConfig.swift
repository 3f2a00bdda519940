/// `ip_filter`'s config: who may not come in (`deny`) and, if given, the only ones who may (`allow`).
public struct IPFilterConfig: Sendable {
    public var allow: [IPRange]
    public var deny: [IPRange]

    public init(allow: [IPRange], deny: [IPRange]) {
        self.allow = allow
        self.deny = deny
    }

    /// Deny wins over allow; an empty allow list allows everyone not denied.
    func permits(_ address: IPAddressBits) -> Bool {
        if deny.contains(where: { $0.contains(address) }) { return false }
        return allow.isEmpty || allow.contains { $0.contains(address) }
    }
}
