import GatewayFilterAPI
import NIOCore

/// `compress: { encodings, level, min_length, content_types, window_bits, memory_level, brotli_quality,
/// brotli_window_bits }`: see README.md.
public struct CompressFilterFactory: HTTPFilterFactory {
    public static let name = "compress"
    public var phases: FilterPhases { [.requestHead, .responseHead, .responseBody] }

    private let config: CompressFilterConfig

    public static func parseConfig(_ value: any FilterConfigValue, environment: FilterEnvironment) -> CompressFilterConfig? {
        var config = CompressFilterConfig()
        // `- compress:` alone reads as an empty mapping: every default.
        guard let map = value.mapping(allowed: ["encodings", "level", "min_length", "content_types", "window_bits", "memory_level",
                                                "brotli_quality", "brotli_window_bits"]) else { return nil }
        var valid = true
        if let encodings = map["encodings"] {
            if let items = encodings.list() {
                var list: [ContentCoding] = []
                for item in items {
                    guard let text = item.nonEmptyString() else { valid = false; continue }
                    guard let coding = ContentCoding(rawValue: text.lowercased()) else {
                        item.fail("unknown coding '\(text)' (supported: br, gzip)")
                        valid = false
                        continue
                    }
                    if list.contains(coding) { item.fail("'\(text)' is listed twice"); valid = false } else { list.append(coding) }
                }
                if items.isEmpty { encodings.fail("list at least one of br, gzip"); valid = false }
                config.encodings = list
            } else {
                valid = false
            }
        }
        if let quality = map["brotli_quality"] {
            if let n = quality.int(min: 0, max: 11) { config.brotliQuality = n } else { valid = false }
        }
        if let window = map["brotli_window_bits"] {
            if let n = window.int(min: 10, max: 24) { config.brotliWindowBits = n } else { valid = false }
        }
        if let level = map["level"] {
            if let n = level.int(min: 1, max: 9) { config.level = n } else { valid = false }
        }
        if let minLength = map["min_length"] {
            if let n = minLength.byteSize() { config.minLength = n } else { valid = false }
        }
        if let window = map["window_bits"] {
            if let n = window.int(min: 9, max: 15) { config.windowBits = n } else { valid = false }
        }
        if let memory = map["memory_level"] {
            if let n = memory.int(min: 1, max: 9) { config.memoryLevel = n } else { valid = false }
        }
        if let types = map["content_types"] {
            if let items = types.list() {
                var list: [String] = []
                for item in items {
                    guard let text = item.nonEmptyString() else { valid = false; continue }
                    let type = text.lowercased()
                    let parts = type.split(separator: "/", omittingEmptySubsequences: false)
                    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !type.contains(";"), !type.contains(" ") else {
                        item.fail("'\(text)' is not a media type (type/subtype, or type/* for a whole type)")
                        valid = false
                        continue
                    }
                    list.append(type)
                }
                if items.isEmpty { types.fail("list at least one media type (leave the key out for the defaults)"); valid = false }
                config.contentTypes = list
            } else {
                valid = false
            }
        }
        return valid ? config : nil
    }

    public init(config: CompressFilterConfig, environment: FilterEnvironment) {
        self.config = config
    }

    public func makeFilter(on eventLoop: EventLoop) -> any HTTPFilter { CompressFilter(config: config) }
}
