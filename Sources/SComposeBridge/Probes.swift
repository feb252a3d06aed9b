// SPDX-License-Identifier: Apache-2.0
import SComposeSpec

/// Healthchecks → probes, and `depends_on` conditions → init containers that wait.
extension Converter {
    /// Docker's healthcheck defaults: 30 s interval and timeout, 3 retries, 5 s start interval.
    static let defaultInterval: Int64 = 30_000_000_000
    static let defaultTimeout: Int64 = 30_000_000_000
    static let defaultStartInterval: Int64 = 5_000_000_000

    /// `readinessProbe` and `livenessProbe` from the healthcheck, and a `startupProbe` for its
    /// start period. Docker only marks a container unhealthy; the liveness probe restarts it.
    func probes(_ service: ServiceConfig) -> [String: KubeNode] {
        guard let check = service.healthcheck, !check.disable, let kind = check.test.first, kind != "NONE" else { return [:] }
        let command: [String]
        switch kind {
        case "CMD": command = Array(check.test.dropFirst())
        case "CMD-SHELL": command = ["/bin/sh", "-c", check.test.dropFirst().joined(separator: " ")]
        default: command = ["/bin/sh", "-c", check.test.joined(separator: " ")]
        }
        guard !command.isEmpty else { return [:] }
        let exec: KubeNode = ["command": .list(command.map { .string($0) })]
        let period = Kube.seconds(check.interval ?? Self.defaultInterval)
        let timeout = Kube.seconds(check.timeout ?? Self.defaultTimeout)
        let retries = Int64(max(check.retries ?? 3, 1))
        let probe: KubeNode = ["exec": exec, "periodSeconds": .int(period), "timeoutSeconds": .int(timeout), "failureThreshold": .int(retries)]
        var out: [String: KubeNode] = ["readinessProbe": probe, "livenessProbe": probe]
        if let start = check.startPeriod, start > 0 {
            // Probed every start_interval through the start period (failures do not count
            // there), then as many more failures as retries allow before the liveness probe.
            let startPeriod = Kube.seconds(check.startInterval ?? Self.defaultStartInterval)
            let tries = (Kube.seconds(start) + startPeriod - 1) / startPeriod + retries
            out["startupProbe"] = ["exec": exec, "periodSeconds": .int(startPeriod), "timeoutSeconds": .int(timeout), "failureThreshold": .int(tries)]
        }
        return out
    }

    /// One init container per dependency the service waits for: a ready pod behind the
    /// dependency's Service (`service_healthy`), or its Job complete
    /// (`service_completed_successfully`). `service_started` has no wait: pods start together.
    mutating func waits(_ service: ServiceConfig) -> [KubeNode] {
        var out: [KubeNode] = []
        for dependency in service.dependsOn.keys.sorted() {
            guard let dep = service.dependsOn[dependency], let target = project.services[dependency], let depName = names[dependency] else { continue }
            switch dep.condition {
            case .started:
                notes.warn("depends_on with service_started has no Kubernetes equivalent: pods start together, so clients must retry until their dependencies answer")
            case .completedSuccessfully:
                guard jobs.contains(dependency) else { continue }
                waitsForJobs = true
                out.append([
                    "name": .string("wait-job-" + depName),
                    "image": .tunable(["waitImages", "kubectl"], .string(options.kubectlImage)),
                    "args": ["wait", "--for=condition=complete", "--timeout=600s", .string("job/" + depName)],
                ])
            case .healthy:
                if jobs.contains(dependency) {
                    notes.warn("service \(service.name) waits for \(dependency) to be healthy, but \(dependency) is a Job: it does not wait")
                    continue
                }
                if target.healthcheck == nil || target.healthcheck?.disable == true {
                    notes.warn("service \(service.name) waits for \(dependency) to be healthy, but \(dependency) has no healthcheck: it waits for a running pod")
                }
                let script: String
                if let port = containerPorts(target).first(where: { $0.proto == "tcp" }) {
                    // A ClusterIP Service answers only through ready pods (those whose readiness probe passes).
                    script = "until nc -z -w 2 \(depName) \(port.port); do echo waiting for \(depName); sleep 2; done"
                } else {
                    // A headless Service's name resolves only to ready pods.
                    script = "until nslookup \(depName).\(namespace).svc.\(options.clusterDomain); do echo waiting for \(depName); sleep 2; done"
                }
                out.append([
                    "name": .string("wait-" + depName),
                    "image": .tunable(["waitImages", "busybox"], .string(options.waitImage)),
                    "command": ["/bin/sh", "-c", .string(script)],
                ])
            }
        }
        return out
    }
}
