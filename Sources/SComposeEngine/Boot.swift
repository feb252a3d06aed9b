// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import SComposeRuntime

#if canImport(Glibc)
import Glibc
#endif

/// What Docker's daemon does when it starts, done by a command run at boot (`scompose boot`,
/// from a systemd unit): containers whose restart policy asks for it are started again, and,
/// better than Docker, in dependency order, each waiting for the dependencies it declared
/// `service_healthy` to be healthy.
extension Engine {
    /// Whether a container goes again at boot: it ran when the machine went down (its exit
    /// was never recorded) and has a restart policy, or its policy is `always` (which Docker
    /// starts at boot even after a manual stop). `unless-stopped` and `on-failure` containers
    /// with a recorded exit stopped by hand, succeeded or gave up, and stay as they are.
    public static func startsAtBoot(_ c: ContainerStatus, policy: RestartPolicy) -> Bool {
        guard !c.running, c.startedAt != nil || c.exit != nil, c.record.labels[ComposeLabel.oneoff] != "True" else { return false }
        switch policy.name {
        case "always": return true
        case "unless-stopped", "on-failure": return c.lost
        default: return false
        }
    }

    /// Starts what `startsAtBoot` picks, level by level of each project's dependency graph,
    /// waiting up to `healthTimeout` seconds for `service_healthy` dependencies. Returns the
    /// names of the containers it could not start (the others go on regardless), all those of
    /// a project whose `depends_on` labels form a cycle among them.
    public func boot(healthTimeout: Int = 300) -> [String] {
        var failed: [String] = []
        let all = containers(project: nil)
        // Running ones are left before their spec is read.
        let chosen = all.filter { c in
            guard !c.running else { return false }
            let spec = StateFile.read(ShimSpec.self, from: ContainerFiles(dir: containersDir + "/" + c.record.id).spec)
            return spec.map { Self.startsAtBoot(c, policy: $0.restart) } ?? false
        }
        for project in Set(chosen.map(\.record.project)).sorted() {
            let containers = chosen.filter { $0.record.project == project }
            // Dependencies first: the reverse of the order `down` stops them in. A cycle among
            // the labels leaves no order to start them in: the project stays down, said why.
            let levels: [[ContainerStatus]]
            do {
                levels = try Self.downLevels(containers).reversed()
            } catch {
                progress(.failed(.project, project, EngineError(passing: error)))
                failed += containers.map(\.record.name)
                continue
            }
            for level in levels {
                for c in level {
                    waitForHealthyDependencies(of: c, timeout: healthTimeout)
                    progress(.resource(.container, c.record.name, "Starting"))
                    do {
                        try start(c)
                        progress(.resource(.container, c.record.name, "Started"))
                    } catch {
                        progress(.failed(.container, c.record.name, EngineError(passing: error)))
                        failed.append(c.record.name)
                    }
                }
            }
        }
        return failed
    }

    /// Waits for the containers of the services `c` declares `service_healthy` dependencies
    /// on (from its `com.docker.compose.depends_on` label) to be healthy, running ones only.
    func waitForHealthyDependencies(of c: ContainerStatus, timeout: Int) {
        let healthy = ComposeLabel.dependsOnEntries(c.record.labels[ComposeLabel.dependsOn]).filter { $0.condition == .healthy }.map(\.service)
        guard !healthy.isEmpty else { return }
        let deadline = time(nil) + time_t(timeout)
        var warned = false
        while true {
            let pending = containers(project: c.record.project).filter {
                healthy.contains($0.record.service) && $0.running && $0.record.healthcheck == true && $0.health != .healthy
            }
            if pending.isEmpty { return }
            if !warned {
                progress(.resource(.container, c.record.name, "Waiting for \(pending.map(\.record.name).sorted().joined(separator: ", "))"))
                warned = true
            }
            if time(nil) >= deadline {
                progress(.warning("\(c.record.name): \(pending.map(\.record.name).sorted().joined(separator: ", ")) not healthy after \(timeout)s; starting it anyway"))
                return
            }
            usleep(200_000)
        }
    }
}
