/// A timeout from config. `.disabled` is written `0` or `off`.
public enum ConfigDuration: Sendable, Equatable, CustomStringConvertible {
    case disabled
    case milliseconds(Int64)

    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: " ")
        if trimmed == "0" || trimmed == "off" { self = .disabled; return }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "5ms" also ends in "s": only accept when what precedes the suffix is a plain number.
            guard let value = Int64(number), value >= 0 else { continue }
            // A typo like 9999999999999h must be a config error, not a crash.
            let (ms, overflow) = value.multipliedReportingOverflow(by: factor)
            guard !overflow else { return nil }
            self = value == 0 ? .disabled : .milliseconds(ms)
            return
        }
        return nil
    }

    public var milliseconds: Int64? {
        if case .milliseconds(let ms) = self { return ms }
        return nil
    }

    public var description: String {
        switch self {
        case .disabled: return "off"
        case .milliseconds(let ms):
            if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
            if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
            if ms % 1000 == 0 { return "\(ms / 1000)s" }
            return "\(ms)ms"
        }
    }
}

enum ByteSizeParser {
    static func parse(_ text: String) -> Int64? {
        var number = Substring(text.trimmingCharacters(in: " ").lowercased())
        var factor: Int64 = 1
        for (suffixes, value) in [(["kib", "kb", "k"], Int64(1) << 10), (["mib", "mb", "m"], Int64(1) << 20), (["gib", "gb", "g"], Int64(1) << 30)] {
            if let suffix = suffixes.first(where: { number.hasSuffix($0) }) {
                number = number.dropLast(suffix.count)
                factor = value
                break
            }
        }
        guard let value = Int64(number), value >= 0 else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
    }

    static func format(_ bytes: Int64) -> String {
        if bytes > 0 && bytes % (1 << 30) == 0 { return "\(bytes >> 30)g" }
        if bytes > 0 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)m" }
        if bytes > 0 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)k" }
        return "\(bytes)"
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var view = Substring(self)
        while view.first == set { view.removeFirst() }
        while view.last == set { view.removeLast() }
        return String(view)
    }
}
