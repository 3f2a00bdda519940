import HTTPTypes

/// The IETF RateLimit fields in the shape of draft-ietf-httpapi-ratelimit-headers-10 (structured fields,
/// one policy item each), plus `Retry-After` (RFC 9110) on refusals:
///
///     RateLimit-Policy: "api";q=100;w=1
///     RateLimit: "api";r=0;t=1
///     Retry-After: 1
///
/// A token bucket maps onto a quota as: `q` = burst, `w` = seconds to refill a whole burst (at least 1),
/// `r` = tokens left, `t` = seconds until the bucket is full again (rounded up).
enum RateLimitHeaders {
    static let policyName = HTTPField.Name("RateLimit-Policy")!
    static let rateLimitName = HTTPField.Name("RateLimit")!

    static func policyValue(name: String, gcra: GCRA) -> String {
        let window = max(1, (gcra.tolerance + 999_999_999) / 1_000_000_000)
        return "\(quoted(name));q=\(gcra.burst);w=\(window)"
    }

    static func add(to fields: inout HTTPFields, _ decision: RateLimitDecision, policyValue: String, retryAfter: Bool) {
        fields[policyName] = policyValue
        fields[rateLimitName] = "\(quoted(decision.policy));r=\(decision.remaining);t=\(decision.resetSeconds)"
        if retryAfter { fields[.retryAfter] = String(decision.retryAfterSeconds) }
    }

    /// An sf-string: backslash and quote escaped; the config allows printable ASCII only.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\\" || character == "\"" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
