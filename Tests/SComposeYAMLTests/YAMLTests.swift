// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import SComposeYAML

@Suite struct YAMLParserTests {
    let parser = YAMLParser()

    func root(_ text: String) throws -> YAMLNode {
        let docs = try parser.parse(text)
        return try #require(docs.first)
    }

    func pairs(_ node: YAMLNode) -> [(String, YAMLNode)] {
        guard case .mapping(let p) = node.content else { return [] }
        return p.map { ($0.key.scalarText ?? "", $0.value) }
    }

    @Test func keepsStylesTagsAndPositions() throws {
        let doc = try root("a: 1\nb: \"2\"\nc: !reset x\n")
        let p = pairs(doc)
        #expect(p.map(\.0) == ["a", "b", "c"])
        guard case .scalar("1", .plain) = p[0].1.content else { Issue.record("plain scalar lost"); return }
        guard case .scalar("2", .doubleQuoted) = p[1].1.content else { Issue.record("quoted scalar lost"); return }
        #expect(p[2].1.tag == "!reset")
        #expect(p[1].1.mark == YAMLMark(line: 2, column: 4))
    }

    @Test func expandsAliasesAndMergeKeys() throws {
        let doc = try root(
            """
            base: &b
              image: alpine
              tty: true
            svc:
              <<: *b
              image: busybox
            """)
        let svc = pairs(doc)[1].1
        let fields = pairs(svc)
        #expect(fields.map(\.0) == ["tty", "image"] || fields.map(\.0) == ["image", "tty"])
        #expect(fields.first { $0.0 == "image" }?.1.scalarText == "busybox")
        #expect(fields.first { $0.0 == "tty" }?.1.scalarText == "true")
    }

    @Test func earlierMergeSourceWins() throws {
        let doc = try root("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n")
        let c = pairs(pairs(doc)[2].1)
        #expect(c.first { $0.0 == "x" }?.1.scalarText == "1")
        #expect(c.first { $0.0 == "y" }?.1.scalarText == "2")
    }

    @Test func rejectsDuplicateKeys() {
        #expect(throws: YAMLError.self) { try parser.parse("a: 1\na: 2\n") }
        do {
            _ = try parser.parse("services:\n  a:\n    image: x\n    image: y\n")
        } catch {
            #expect(error.message == "mapping key \"image\" already defined at line 3")
            #expect(error.mark?.line == 4)
        }
    }

    @Test func billionLaughsIsAnErrorNotAnOOM() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<12 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        do {
            _ = try parser.parse(text)
            Issue.record("expected an expansion error")
        } catch {
            #expect(error.message.contains("excessive aliasing"))
        }
    }

    @Test func deepNestingIsAnError() {
        let text = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: YAMLError.self) { try parser.parse(text) }
    }

    @Test func syntaxErrorsHavePositions() {
        do {
            _ = try parser.parse("services:\n  web:\n    image: [a\n")
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.mark != nil)
        }
    }

    @Test func unknownAnchor() {
        #expect(throws: YAMLError.self) { try parser.parse("a: *nope\n") }
    }

    @Test func multipleDocuments() throws {
        #expect(try parser.parse("a: 1\n---\nb: 2\n").count == 2)
        #expect(try parser.parse("").isEmpty)
    }
}

@Suite struct ScalarResolverTests {
    @Test(arguments: [
        ("true", ResolvedScalar.bool(true)), ("False", .bool(false)), ("yes", .string("yes")), ("on", .string("on")),
        ("~", .null), ("", .null), ("null", .null), ("42", .int(42)), ("0x1F", .int(31)), ("0777", .int(511)),
        ("0o17", .int(15)), ("0b101", .int(5)), ("-7", .int(-7)), ("1_000", .int(1000)), ("1.50", .float(1.5)),
        ("1e3", .float(1000)), ("2020-01-01", .string("2020-01-01")), ("22:22", .string("22:22")),
        ("abc", .string("abc")),
    ])
    func plainScalars(text: String, expected: ResolvedScalar) {
        #expect(ScalarResolver.resolve(text, style: .plain, tag: nil) == expected)
    }

    @Test func quotedScalarsAreStrings() {
        #expect(ScalarResolver.resolve("8080", style: .doubleQuoted, tag: nil) == .string("8080"))
        #expect(ScalarResolver.resolve("true", style: .singleQuoted, tag: nil) == .string("true"))
        #expect(ScalarResolver.resolve("12", style: .plain, tag: YAMLTag.str) == .string("12"))
    }

    @Test(arguments: [(1.5, "1.5"), (1e21, "1e+21"), (1e-5, "1e-05"), (1_000_000.0, "1e+06"), (100.0, "100"), (0.1, "0.1"), (123_456.0, "123456"), (1_234_567.0, "1.234567e+06")])
    func goFloatFormatting(value: Double, expected: String) {
        #expect(GoNumber.formatFloat(value) == expected)
    }
}

@Suite struct YAMLEmitterTests {
    @Test func quotesOnlyWhatWouldReadBackDifferently() {
        #expect(YAMLEmitter.needsQuotes("8000"))
        #expect(YAMLEmitter.needsQuotes("true"))
        #expect(YAMLEmitter.needsQuotes(""))
        #expect(YAMLEmitter.needsQuotes("a: b"))
        #expect(!YAMLEmitter.needsQuotes("ingress"))
        #expect(!YAMLEmitter.needsQuotes("/var/lib/data"))
        #expect(!YAMLEmitter.needsQuotes("yes"))
    }

    @Test func emitsWhatParsesBack() throws {
        let node = YAMLNode(
            .mapping([
                YAMLPair(key: .scalar("name"), value: .scalar("demo", tag: YAMLTag.str)),
                YAMLPair(
                    key: .scalar("ports"),
                    value: YAMLNode(
                        .sequence([
                            YAMLNode(
                                .mapping([
                                    YAMLPair(key: .scalar("published"), value: .scalar("8080", tag: YAMLTag.str)),
                                    YAMLPair(key: .scalar("target"), value: .scalar("80")),
                                ]))
                        ]))),
                YAMLPair(key: .scalar("script"), value: .scalar("echo a\necho b\n", tag: YAMLTag.str)),
            ]))
        let text = YAMLEmitter().emit(node)
        #expect(text.contains("published: \"8080\""))
        #expect(text.contains("  - published"))
        let back = try YAMLParser().parse(text)
        guard case .mapping(let pairs)? = back.first?.content else {
            Issue.record("not a mapping")
            return
        }
        #expect(pairs.count == 3)
        #expect(pairs[2].value.scalarText == "echo a\necho b\n")
    }
}
