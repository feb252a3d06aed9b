// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import SComposeLoader

@Suite struct TemplateTests {
    let env = ["SET": "value", "EMPTY": "", "NESTED": "inner"]

    func sub(_ text: String) throws -> String {
        var unset: [String] = []
        let env = self.env
        return try Template.substitute(text, lookup: { env[$0] }, unset: &unset)
    }

    @Test(arguments: [
        ("$SET", "value"), ("${SET}", "value"), ("x${SET}y", "xvaluey"), ("${UNSET}", ""),
        ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${UNSET-d}", "d"),
        ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"), ("${UNSET+alt}", ""),
        ("${UNSET:-${NESTED}}", "inner"), ("${UNSET:-${ALSO:-deep}}", "deep"), ("$$SET", "$SET"),
        ("a $ b", "a $ b"), ("$1", "$1"), ("${SET:?must}", "value"), ("no vars", "no vars"),
    ])
    func substitutes(template: String, expected: String) throws {
        #expect(try sub(template) == expected)
    }

    @Test func requiredVariables() throws {
        #expect(throws: Template.Failure.missingRequired(variable: "UNSET", reason: "need it")) {
            try sub("${UNSET:?need it}")
        }
        #expect(throws: Template.Failure.missingRequired(variable: "EMPTY", reason: "")) { try sub("${EMPTY:?}") }
        #expect(throws: Template.Failure.missingRequired(variable: "UNSET", reason: "")) { try sub("${UNSET?}") }
        #expect(try sub("${EMPTY?x}") == "")
    }

    @Test func invalidTemplates() {
        for bad in ["${", "${FOO", "${}", "${1abc}", "${FOO:bar}", "${ FOO}"] {
            #expect(throws: Template.Failure.self, "\(bad)") { try sub(bad) }
        }
    }

    @Test func reportsUnsetNames() throws {
        var unset: [String] = []
        _ = try Template.substitute("$A ${B:-x} ${C}", lookup: { _ in nil }, unset: &unset)
        #expect(unset == ["A", "C"])
    }
}

@Suite struct DotenvTests {
    func parse(_ text: String, _ env: [String: String] = [:]) throws -> [String: String] {
        var out: [String: String] = [:]
        for e in try Dotenv.parse(text, lookup: { env[$0] }) { out[e.key] = e.value }
        return out
    }

    @Test func syntax() throws {
        let values = try parse(
            """
            # comment
            A=1
            export B=two words
            C = spaced
            D='single $A \\n'
            E="double ${A} \\n end"
            F=value # comment
            G=value#not-comment
            H: yaml-style
            I="multi
            line"
            J=
            K=${A}-${MISSING:-dflt}
            """)
        #expect(values["A"] == "1")
        #expect(values["B"] == "two words")
        #expect(values["C"] == "spaced")
        #expect(values["D"] == "single $A \\n")
        #expect(values["E"] == "double 1 \n end")
        #expect(values["F"] == "value")
        #expect(values["G"] == "value#not-comment")
        #expect(values["H"] == "yaml-style")
        #expect(values["I"] == "multi\nline")
        #expect(values["J"] == "")
        #expect(values["K"] == "1-dflt")
    }

    @Test func environmentWinsInExpansionAndBareKeysInherit() throws {
        let values = try parse("A=file\nB=${A}\nC\n", ["A": "env", "C": "inherited"])
        #expect(values["B"] == "env")
        #expect(values["C"] == "inherited")
    }

    @Test func errors() {
        #expect(throws: Dotenv.Failure.self) { try parse("A=\"unterminated\n") }
        #expect(throws: Dotenv.Failure.self) { try parse("BAD KEY!=1\n") }
    }
}
