// SPDX-License-Identifier: Apache-2.0
import SComposeBridge
import SComposeLoader
import SComposeSpec
import Testing

@Suite struct BridgeTests {
    /// What the issue asks of the app+postgres example, said directly (the golden files hold the rest).
    @Test func appPostgresExample() throws {
        let files = Dictionary(uniqueKeysWithValues: try Golden.convert("example-app-postgres").files.map { ($0.path, $0.text) })
        let db = try #require(files["statefulset-db.yaml"], "postgres is a StatefulSet")
        #expect(db.contains("claimName: dbdata"))
        #expect(files["persistentvolumeclaim-dbdata.yaml"]?.contains("storage: 1Gi") == true)
        #expect(db.contains("readinessProbe:\n            exec:\n              command:\n                - /bin/sh\n                - -c\n                - pg_isready -U app -d app -h 127.0.0.1"))
        let web = try #require(files["deployment-web.yaml"])
        #expect(web.contains("initContainers:") && web.contains("name: wait-db"))
        let published = try #require(files["service-web-published.yaml"])
        #expect(published.contains("type: LoadBalancer") && published.contains("port: 18081") && published.contains("targetPort: 8000"))
        #expect(files["kustomization.yaml"]?.contains("- statefulset-db.yaml") == true)
    }

    private func project(_ services: [ServiceConfig], volumes: [String: VolumeConfig] = [:]) -> BridgeInput {
        var project = ComposeProject(name: "demo", workingDirectory: "/p")
        for service in services { project.services[service.name] = service }
        project.volumes = volumes
        return BridgeInput(project: project, model: .object([]))
    }

    private func service(_ name: String) -> ServiceConfig {
        var s = ServiceConfig(name: name)
        s.image = "busybox"
        s.networks = ["default": nil]
        return s
    }

    @Test func namesThatCollideInKubernetesAreRefused() {
        #expect(throws: BridgeError.self) { try Bridge.convert(project([service("web_app"), service("web-app")])) }
    }

    @Test func badNamespaceIsRefused() {
        var options = BridgeOptions()
        options.namespace = "Not_Valid"
        #expect(throws: BridgeError.self) { try Bridge.convert(project([service("web")]), options: options) }
    }

    @Test func unknownXK8sKeysAreRefused() throws {
        var input = project([service("web")])
        input.model = .object([("services", .object([("web", .object([("x-k8s", .object([("nodeSelectr", .object([]))]))]))]))])
        #expect(throws: BridgeError(#"services.web.x-k8s: unknown key "nodeSelectr" (known: annotations, nodeSelector, storageClass, tolerations)"#)) {
            try Bridge.convert(input)
        }
    }

    @Test func badVolumeSizeIsRefused() {
        var s = service("db")
        s.volumes = [VolumeMount(type: .volume, source: "data", target: "/data")]
        var volume = VolumeConfig(name: "demo_data")
        volume.driverOpts = ["size": "big"]
        #expect(throws: BridgeError.self) { try Bridge.convert(project([s], volumes: ["data": volume])) }
    }

    @Test func unreadableSecretFileIsAnError() {
        var s = service("web")
        s.secrets = [FileReference(source: "key")]
        var input = project([s])
        var secret = FileObjectConfig(name: "demo_key")
        secret.file = "/p/missing.txt"
        input.project.secrets = ["key": secret]
        #expect(throws: BridgeError("secret key: cannot read ./missing.txt")) { try Bridge.convert(input) }
    }

    @Test func helmFormatWritesAChart() throws {
        var options = BridgeOptions()
        options.format = .helm
        let paths = try Bridge.convert(project([service("web")]), options: options).files.map(\.path)
        #expect(paths == ["CONVERSION.md", "Chart.yaml", "templates/deployment-web.yaml", "templates/namespace-demo.yaml",
                          "templates/networkpolicy-network-default.yaml", "templates/service-web.yaml", "values.yaml"])
    }
}
