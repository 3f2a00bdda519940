import CYAML

/// Where a node starts in the file, 1-based like an editor shows it.
struct YAMLMark: Sendable {
    let line: Int
    let column: Int
}

/// A YAML document as a plain tree with positions: all the config reader needs. Built from libyaml's
/// event stream (the system libyaml), which keeps Foundation, and its share of every instance's memory,
/// out of the gateway.
indirect enum YAMLNode {
    /// `plain` is false for quoted and block scalars, so that `""` and `"null"` stay strings.
    case scalar(String, plain: Bool, YAMLMark)
    case mapping([(key: YAMLNode, value: YAMLNode)], YAMLMark)
    case sequence([YAMLNode], YAMLMark)

    var mark: YAMLMark {
        switch self {
        case .scalar(_, _, let mark), .mapping(_, let mark), .sequence(_, let mark): return mark
        }
    }

    /// The text of a scalar; nil for collections.
    var string: String? {
        if case .scalar(let text, _, _) = self { return text }
        return nil
    }

    /// A plain `~`, `null`, `Null`, `NULL` or empty scalar: YAML's null.
    var isNull: Bool {
        guard case .scalar(let text, true, _) = self else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }
}

/// A YAML syntax problem, located.
struct YAMLSyntaxError: Error {
    let message: String
    let mark: YAMLMark
}

/// Composes the single document of a YAML text into a `YAMLNode` tree. Anchors and aliases are
/// resolved; a second document is an error (a config is one document).
struct YAMLComposer {
    private var parser = yaml_parser_t()
    private var anchors: [String: YAMLNode] = [:]

    static func compose(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        var composer = YAMLComposer()
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { (buffer) throws(YAMLSyntaxError) -> YAMLNode? in
            guard yaml_parser_initialize(&composer.parser) == 1 else {
                throw YAMLSyntaxError(message: "out of memory", mark: YAMLMark(line: 0, column: 0))
            }
            defer { yaml_parser_delete(&composer.parser) }
            yaml_parser_set_input_string(&composer.parser, buffer.baseAddress, buffer.count)
            return try composer.composeStream()
        }
    }

    private mutating func composeStream() throws(YAMLSyntaxError) -> YAMLNode? {
        var root: YAMLNode?
        var documents = 0
        while true {
            var event = try nextEvent()
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
                continue
            case YAML_STREAM_END_EVENT:
                return root
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    throw YAMLSyntaxError(message: "invalid YAML: expected a single document, found a second one", mark: Self.mark(event.start_mark))
                }
                var first = try nextEvent()
                defer { yaml_event_delete(&first) }
                root = try composeNode(&first)
            default:
                throw YAMLSyntaxError(message: "invalid YAML: unexpected event", mark: Self.mark(event.start_mark))
            }
        }
    }

    private mutating func nextEvent() throws(YAMLSyntaxError) -> yaml_event_t {
        var event = yaml_event_t()
        guard yaml_parser_parse(&parser, &event) == 1 else {
            let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
            let context = parser.context.map { String(cString: $0) + " " } ?? ""
            throw YAMLSyntaxError(message: "invalid YAML: \(context)\(problem)", mark: Self.mark(parser.problem_mark))
        }
        return event
    }

    /// Composes the node that `event` starts (consuming events up to its end).
    private mutating func composeNode(_ event: inout yaml_event_t) throws(YAMLSyntaxError) -> YAMLNode {
        let mark = Self.mark(event.start_mark)
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let node = anchors[name] else {
                throw YAMLSyntaxError(message: "invalid YAML: found undefined alias '\(name)'", mark: mark)
            }
            return node
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let node = YAMLNode.scalar(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, mark)
            remember(scalar.anchor, node)
            return node
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            var items: [YAMLNode] = []
            while true {
                var next = try nextEvent()
                defer { yaml_event_delete(&next) }
                if next.type == YAML_SEQUENCE_END_EVENT { break }
                items.append(try composeNode(&next))
            }
            let node = YAMLNode.sequence(items, mark)
            if let anchor { anchors[anchor] = node }
            return node
        case YAML_MAPPING_START_EVENT:
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            while true {
                var keyEvent = try nextEvent()
                defer { yaml_event_delete(&keyEvent) }
                if keyEvent.type == YAML_MAPPING_END_EVENT { break }
                let key = try composeNode(&keyEvent)
                var valueEvent = try nextEvent()
                defer { yaml_event_delete(&valueEvent) }
                pairs.append((key, try composeNode(&valueEvent)))
            }
            let node = YAMLNode.mapping(pairs, mark)
            if let anchor { anchors[anchor] = node }
            return node
        default:
            throw YAMLSyntaxError(message: "invalid YAML: unexpected event", mark: mark)
        }
    }

    private mutating func remember(_ anchor: UnsafeMutablePointer<yaml_char_t>?, _ node: YAMLNode) {
        if let anchor { anchors[String(cString: anchor)] = node }
    }

    private static func mark(_ mark: yaml_mark_t) -> YAMLMark {
        YAMLMark(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}
