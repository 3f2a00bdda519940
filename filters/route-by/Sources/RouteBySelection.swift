import GatewayFilterAPI
import HTTPTypes

/// Reading the values rules test, and picking a cluster from a weighted split.
enum RouteBySelection {
    static func value(_ source: RouteByConfig.Source, in head: HTTPRequest) -> String? {
        switch source {
        case .header(let name):
            let values = head.headerFields[values: name]
            return values.isEmpty ? nil : values.joined(separator: ", ")
        case .cookie(let name):
            return cookie(name, in: head.headerFields)
        case .query(let name):
            return queryParameter(name, in: head.path ?? "")
        }
    }

    static func matches(_ test: RouteByConfig.Test, _ value: String?) -> Bool {
        guard let value else { return false }
        switch test {
        case .present: return true
        case .exact(let expected): return value == expected
        case .prefix(let prefix): return value.hasPrefix(prefix)
        case .regex(let box): return (try? box.regex.wholeMatch(in: value)) != nil
        }
    }

    static func cookie(_ name: String, in fields: HTTPFields) -> String? {
        for header in fields[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name else { continue }
                return String(trimmed[trimmed.index(after: equals)...])
            }
        }
        return nil
    }

    static func queryParameter(_ name: String, in path: String) -> String? {
        guard let question = path.firstIndex(of: "?") else { return nil }
        for pair in path[path.index(after: question)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.first.map(String.init) == name { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }

    /// A point in [0, total) chosen by `seed` (stable) or by `random`.
    static func pick(_ split: [RouteByConfig.WeightedCluster], seed: UInt64?, random: UInt64) -> String {
        let total = split.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return split[0].cluster }
        var point = Int((seed.map(mix) ?? random) % UInt64(total))
        for target in split {
            if point < target.weight { return target.cluster }
            point -= target.weight
        }
        return split[split.count - 1].cluster
    }

    /// FNV-1a then a finaliser: the same value lands on the same side on every instance and every run.
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
