// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Testing

/// The project's one JSON value: parsed exactly, written compact (state files, `--format json`
/// rows) or indented (`config --format json`, `inspect`), numbers as their text.
struct JSONValueTests {
    let value = JSONValue.object([
        ("name", .string("web \"1\"\n")), ("limit", .number("18446744073709551615")), ("cpus", .number("0.5")),
        ("ports", .array([.int(80), .int(-1)])), ("labels", .object([])), ("tags", .array([])), ("on", .bool(true)), ("none", .null),
    ])

    @Test func compactAndIndentedForms() {
        #expect(value.compactText() == #"{"name":"web \"1\"\n","limit":18446744073709551615,"cpus":0.5,"ports":[80,-1],"labels":{},"tags":[],"on":true,"none":null}"#)
        #expect(String(decoding: value.bytes(), as: UTF8.self).hasPrefix(#"{"cpus":0.5,"labels":{},"limit":"#))
        #expect(
            value.text(indent: "  ", sortKeys: false) == """
                {
                  "name": "web \\"1\\"\\n",
                  "limit": 18446744073709551615,
                  "cpus": 0.5,
                  "ports": [
                    80,
                    -1
                  ],
                  "labels": {},
                  "tags": [],
                  "on": true,
                  "none": null
                }
                """)
    }

    @Test func parsesBackExactly() throws {
        #expect(try JSONValue.parse(value.bytes(sortKeys: false)) == value)
        #expect(try JSONValue.parse(Array(value.text().utf8)) == JSONValue.parse(value.bytes()))
        let parsed = try JSONValue.parse(Array(#"{"a":1,"a":2}"#.utf8))
        #expect(parsed["a"] == .int(2), "the last of a repeated key, as Go's decoder")
        #expect(value["limit"]?.uint64Value == UInt64.max)
    }
}
