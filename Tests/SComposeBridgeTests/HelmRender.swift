// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeYAML

/// Renders the chart's templates as Helm would, for the one form of action the converter writes:
/// `{{ .Values.a.b | toJson }}` and `{{ index .Values "a" "b" | toJson }}`. Anything else in
/// `{{ }}` is an error, so a template the converter starts writing in a richer syntax fails
/// here until this evaluator (or a real `helm template`) learns it.
struct HelmRender {
    let values: YAMLNode

    init(valuesYAML: String) throws {
        guard let document = try YAMLParser().parse(valuesYAML).first else { throw GoldenError("values.yaml is empty") }
        values = document
    }

    func render(_ template: String) throws -> String {
        var out = ""
        var rest = template[...]
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { throw GoldenError("unclosed {{ in a template") }
            out += try evaluate(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    private func evaluate(_ action: String) throws -> String {
        let pipeline = action.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pipeline.count == 2, pipeline[1] == "toJson" else { throw GoldenError("unsupported action {{\(action)}}") }
        let path: [String]
        if pipeline[0].hasPrefix(".Values.") {
            path = pipeline[0].dropFirst(".Values.".count).split(separator: ".").map(String.init)
        } else if pipeline[0].hasPrefix("index .Values ") {
            path = try pipeline[0].dropFirst("index .Values ".count).split(separator: " ").map { word in
                guard word.count >= 2, word.hasPrefix("\""), word.hasSuffix("\"") else { throw GoldenError("unsupported index argument \(word)") }
                return String(word.dropFirst().dropLast())
            }
        } else {
            throw GoldenError("unsupported action {{\(action)}}")
        }
        var node = values
        for key in path {
            guard case .mapping(let pairs) = node.content, let next = pairs.first(where: { $0.key.scalarText == key })?.value else {
                throw GoldenError("values.yaml has no \(path.joined(separator: "."))")
            }
            node = next
        }
        guard case .scalar(let text, let style) = node.content else { throw GoldenError("toJson of a non-scalar at \(path)") }
        switch ScalarResolver.resolve(text, style: style, tag: node.tag) {
        case .string(let s): return jsonString(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        default: throw GoldenError("unexpected value at \(path)")
        }
    }

    private func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A YAML document as a comparable value: scalars resolved to their types, maps sorted.
func canonical(_ node: YAMLNode) -> String {
    switch node.content {
    case .scalar(let text, let style):
        switch ScalarResolver.resolve(text, style: style, tag: node.tag) {
        case .string(let s): return "s:" + s.debugDescription
        case .int(let i): return "i:\(i)"
        case .uint(let u): return "i:\(u)"
        case .bool(let b): return "b:\(b)"
        case .float(let d): return "f:\(d)"
        case .null: return "null"
        }
    case .sequence(let items): return "[" + items.map(canonical).joined(separator: ",") + "]"
    case .mapping(let pairs):
        return "{" + pairs.map { canonical($0.key) + ":" + canonical($0.value) }.sorted().joined(separator: ",") + "}"
    }
}
