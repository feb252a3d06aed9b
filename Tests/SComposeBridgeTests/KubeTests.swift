// SPDX-License-Identifier: Apache-2.0
import SComposeYAML
import SComposeOS
import Testing

@testable import SComposeBridge

@Suite struct KubeTests {
    @Test func namesBecomeDNSLabels() {
        #expect(Kube.name("web") == "web")
        #expect(Kube.name("My_App.v2") == "my-app-v2")
        #expect(Kube.name("1db") == "c-1db")
        #expect(Kube.name("-x-") == "x")
        #expect(Kube.name(String(repeating: "a", count: 70)).count == 63)
    }

    @Test func labelKeysAndValues() {
        #expect(Kube.isLabelKey("app.kubernetes.io/name"))
        #expect(Kube.isLabelKey("tier"))
        #expect(!Kube.isLabelKey("Bad_Prefix/x"))
        #expect(!Kube.isLabelKey("a/b/c"))
        #expect(Kube.isLabelValue("v1.2_x-y"))
        #expect(!Kube.isLabelValue("has space"))
        #expect(!Kube.isLabelValue("-lead"))
    }

    @Test func quantities() {
        #expect(Kube.memory(512 * 1024 * 1024) == "512Mi")
        #expect(Kube.memory(1 << 30) == "1Gi")
        #expect(Kube.memory(1000) == "1000")
        #expect(Kube.cpu(0.5) == "500m")
        #expect(Kube.cpu(2) == "2")
        #expect(Kube.seconds(200_000_000) == 1)
        #expect(Kube.seconds(5_000_000_000) == 5)
        #expect(Kube.seconds(5_500_000_000) == 6)
    }

    @Test func storageSizes() throws {
        #expect(try Kube.storage("10g", at: "x") == "10Gi")
        #expect(try Kube.storage("512m", at: "x") == "512Mi")
        #expect(try Kube.storage("20Gi", at: "x") == "20Gi")
        #expect(try Kube.storage("5G", at: "x") == "5G")
        #expect(throws: BridgeError.self) { try Kube.storage("lots", at: "x") }
        #expect(throws: BridgeError.self) { try Kube.storage("10Zi", at: "x") }
    }

    @Test func base64MatchesTheStandardAlphabet() {
        #expect(Base64.encode(Array("".utf8)) == "")
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode([0xff, 0xfe, 0x00]) == "//4A")
    }

    @Test func mapsAreWrittenWithSortedKeysAndStringsQuotedWhenTheyWouldReadAsOtherTypes() {
        let node: KubeNode = ["b": "true", "a": ["8080", 8080, true], "c": [:]]
        #expect(node.yamlText(.manifest) == "a:\n  - \"8080\"\n  - 8080\n  - true\nb: \"true\"\nc: {}\n")
    }

    @Test func tunableValuesBecomeHelmExpressions() {
        let node: KubeNode = ["replicas": .tunable(["services", "my-web", "replicas"], 2), "image": .tunable(["services", "db", "image"], "pg")]
        #expect(node.yamlText(.manifest) == "image: pg\nreplicas: 2\n")
        #expect(
            node.yamlText(.helm)
                == "image: {{ .Values.services.db.image | toJson }}\nreplicas: {{ index .Values \"services\" \"my-web\" \"replicas\" | toJson }}\n")
        var values: [[String]: KubeNode] = [:]
        node.tunables(into: &values)
        #expect(values[["services", "db", "image"]] == "pg")
    }
}
