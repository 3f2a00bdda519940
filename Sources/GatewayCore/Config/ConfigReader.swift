/// Collects errors while a YAML document is turned into typed config.
final class ConfigDiagnostics {
    let file: String
    private(set) var errors: [ConfigError] = []

    init(file: String) { self.file = file }

    func error(_ node: YAMLNode?, _ path: String, _ message: String) {
        let mark = node?.mark
        let error = ConfigError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0, keyPath: path, message: message)
        // Cross-reference checks revisit nodes; each problem is still reported once.
        if !errors.contains(error) { errors.append(error) }
    }
}

/// A YAML node together with its key path, with typed accessors that report, never throw, so that
/// one pass finds every error. Accessors return nil after reporting.
struct ConfigValue {
    let node: YAMLNode
    let path: String
    let diagnostics: ConfigDiagnostics

    func fail(_ message: String) { diagnostics.error(node, path, message) }

    var scalarString: String? {
        node.string
    }

    func string() -> String? {
        guard let value = scalarString else { fail("expected a string"); return nil }
        return value
    }

    func nonEmptyString() -> String? {
        guard let value = string() else { return nil }
        guard !value.isEmpty else { fail("must not be empty"); return nil }
        return value
    }

    func int(min: Int = Int.min, max: Int = Int.max) -> Int? {
        guard let text = scalarString, let value = Int(text) else { fail("expected an integer"); return nil }
        guard value >= min && value <= max else { fail("must be between \(min) and \(max), got \(value)"); return nil }
        return value
    }

    func bool() -> Bool? {
        switch scalarString?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: fail("expected true or false"); return nil
        }
    }

    /// `250ms`, `5s`, `2m`, `1h`; `0` or `off` means disabled (returned as nil inside `.some`).
    func duration() -> ConfigDuration? {
        guard let text = scalarString else { fail("expected a duration like 5s or 250ms"); return nil }
        guard let value = ConfigDuration(parsing: text) else {
            fail("invalid duration '\(text)' (use a number with ms, s, m or h, e.g. 5s; 0 disables)")
            return nil
        }
        return value
    }

    /// `512`, `16k`/`16KiB`, `10m`/`10MiB`, `1g`/`1GiB` (binary units).
    func byteSize() -> Int64? {
        guard let text = scalarString, let value = ByteSizeParser.parse(text) else {
            fail("invalid size '\(scalarString ?? "")' (use bytes or a number with k, m or g, e.g. 16k)")
            return nil
        }
        return value
    }

    func mapping(allowed: [String]) -> ConfigMapping? {
        guard case .mapping(let mapping, _) = node else { fail("expected a mapping with keys: \(allowed.joined(separator: ", "))"); return nil }
        return ConfigMapping(mapping: mapping, value: self, allowed: allowed)
    }

    func sequence() -> [ConfigValue]? {
        guard case .sequence(let sequence, _) = node else { fail("expected a list"); return nil }
        return sequence.enumerated().map { ConfigValue(node: $1, path: "\(path)[\($0)]", diagnostics: diagnostics) }
    }
}

/// A mapping whose keys are checked against the allowed set when reading is done.
struct ConfigMapping {
    let mapping: [(key: YAMLNode, value: YAMLNode)]
    let value: ConfigValue
    let allowed: [String]

    init(mapping: [(key: YAMLNode, value: YAMLNode)], value: ConfigValue, allowed: [String]) {
        self.mapping = mapping
        self.value = value
        self.allowed = allowed
        var seen: Set<String> = []
        for (key, _) in mapping {
            guard let name = key.string else {
                value.diagnostics.error(key, value.path, "keys must be strings")
                continue
            }
            if !seen.insert(name).inserted {
                value.diagnostics.error(key, childPath(name), "duplicate key '\(name)'")
            } else if !allowed.contains(name) {
                let hint = Self.closest(name, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                value.diagnostics.error(key, childPath(name), "unknown key '\(name)'\(hint); allowed: \(allowed.joined(separator: ", "))")
            }
        }
    }

    private func childPath(_ key: String) -> String { value.path.isEmpty ? key : "\(value.path).\(key)" }

    subscript(_ key: String) -> ConfigValue? {
        precondition(allowed.contains(key), "config reader asked for undeclared key \(key)")
        for (k, v) in mapping where k.string == key {
            if v.isNull { return nil }
            return ConfigValue(node: v, path: childPath(key), diagnostics: value.diagnostics)
        }
        return nil
    }

    func required(_ key: String) -> ConfigValue? {
        guard let child = self[key] else {
            value.fail("missing required key '\(key)'")
            return nil
        }
        return child
    }

    /// A key a user may have expected from another proxy: suggest the nearest allowed one.
    static func closest(_ key: String, in allowed: [String]) -> String? {
        let scored = allowed.map { ($0, editDistance(key, $0)) }.min { $0.1 < $1.1 }
        guard let best = scored, best.1 <= max(2, key.count / 3) else { return nil }
        return best.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
