/// Turns a YAML file into a validated `GatewayConfig`, reporting every problem with file, line and key.
public enum ConfigLoader {
    /// `filters` are the filter names the config may use (the executable's registry).
    public static func load(file: String, filters: FilterRegistry = .empty) throws(ConfigErrors) -> GatewayConfig {
        let text: String
        do {
            text = try readFile(file)
        } catch {
            throw ConfigErrors(errors: [ConfigError(file: file, line: 0, column: 0, keyPath: "", message: "cannot read file: \(error)")])
        }
        return try parse(yaml: text, file: file, filters: filters)
    }

    public static func parse(yaml: String, file: String, filters: FilterRegistry = .empty) throws(ConfigErrors) -> GatewayConfig {
        let diagnostics = ConfigDiagnostics(file: file)
        let root: YAMLNode
        do {
            guard let node = try YAMLComposer.compose(yaml), !node.isNull else {
                throw ConfigErrors(errors: [ConfigError(file: file, line: 1, column: 1, keyPath: "", message: "the file is empty")])
            }
            root = node
        } catch let error as YAMLSyntaxError {
            throw ConfigErrors(errors: [ConfigError(file: file, line: error.mark.line, column: error.mark.column, keyPath: "", message: error.message)])
        } catch let error as ConfigErrors {
            throw error
        } catch {
            throw ConfigErrors(errors: [ConfigError(file: file, line: 0, column: 0, keyPath: "", message: "invalid YAML: \(error)")])
        }
        let config = ConfigDecoder(diagnostics: diagnostics, filters: filters).decode(ConfigValue(node: root, path: "", diagnostics: diagnostics), file: file)
        if !diagnostics.errors.isEmpty || config == nil {
            throw ConfigErrors(errors: diagnostics.errors.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return config!
    }

    static func readFile(_ path: String) throws -> String {
        guard let handle = fopen(path, "r") else { throw ReadError(code: errno) }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, handle)
            if count > 0 { bytes.append(contentsOf: chunk[0..<count]) }
            if count < chunk.count { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    struct ReadError: Error, CustomStringConvertible {
        var code: Int32
        var description: String { String(cString: strerror(code)) }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
