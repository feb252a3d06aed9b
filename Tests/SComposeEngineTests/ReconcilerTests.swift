// SPDX-License-Identifier: Apache-2.0
import SComposeEngine
import Testing

/// The reconciler's plans, as text: what `up` decides before it touches anything.
@Suite struct ReconcilerTests {
    /// db ← web (healthy, restart: true) ← proxy; worker joins web's network namespace.
    func project(webHash: String = "w1", dbHash: String = "d1", webReplicas: Int = 1) -> [DesiredService] {
        [
            DesiredService(name: "db", configHash: dbHash, imageID: "sha256:pg"),
            DesiredService(
                name: "web", configHash: webHash, imageID: "sha256:app", replicas: webReplicas,
                dependencies: [.init(service: "db", condition: .healthy, restart: true)]),
            DesiredService(name: "proxy", configHash: "p1", imageID: "sha256:nginx", dependencies: [.init(service: "web")]),
            DesiredService(
                name: "worker", configHash: "k1", imageID: "sha256:app", dependencies: [.init(service: "web")],
                namespaceParents: ["web"]),
        ]
    }

    func running(_ service: String, _ number: Int = 1, hash: String, image: String) -> ObservedContainer {
        ObservedContainer(name: "demo-\(service)-\(number)", service: service, number: number, configHash: hash, imageID: image, phase: .running)
    }

    /// Everything of `project()` up and unchanged.
    var upToDate: [ObservedContainer] {
        [
            running("db", hash: "d1", image: "sha256:pg"), running("web", hash: "w1", image: "sha256:app"),
            running("proxy", hash: "p1", image: "sha256:nginx"), running("worker", hash: "k1", image: "sha256:app"),
        ]
    }

    func plan(_ desired: [DesiredService], _ observed: [ObservedContainer], _ configure: (inout ReconcileOptions) -> Void = { _ in }) throws -> String {
        var options = ReconcileOptions()
        configure(&options)
        return try Reconciler.plan(project: "demo", desired: desired, observed: observed, options: options).text
    }

    @Test func firstUp() throws {
        #expect(try plan(project(), []) == """
            service db
              create demo-db-1
            service web after db(service_healthy)
              wait db service_healthy
              create demo-web-1
            service proxy after web
              create demo-proxy-1
            service worker after web
              create demo-worker-1

            """)
    }

    @Test func noOpUp() throws {
        #expect(try plan(project(), upToDate) == """
            service db
              keep demo-db-1
            service web after db(service_healthy)
              keep demo-web-1
            service proxy after web
              keep demo-proxy-1
            service worker after web
              keep demo-worker-1

            """)
    }

    /// A changed environment variable changes db's hash: db is recreated, web (restart: true)
    /// restarted, the others kept.
    @Test func changedServiceRestartsItsRestartTrueDependants() throws {
        #expect(try plan(project(dbHash: "d2"), upToDate) == """
            service db
              recreate demo-db-1 (config changed)
            service web after db(service_healthy)
              wait db service_healthy
              restart demo-web-1 (db recreated)
            service proxy after web
              keep demo-proxy-1
            service worker after web
              keep demo-worker-1

            """)
    }

    /// A recreated web takes its network namespace with it: worker, which joins it, is recreated.
    @Test func namespaceChildrenFollowTheirParent() throws {
        #expect(try plan(project(webHash: "w2"), upToDate) == """
            service db
              keep demo-db-1
            service web after db(service_healthy)
              wait db service_healthy
              recreate demo-web-1 (config changed)
            service proxy after web
              keep demo-proxy-1
            service worker after web
              recreate demo-worker-1 (namespace of web recreated)

            """)
    }

    @Test func imageChangeRecreates() throws {
        var observed = upToDate
        observed[2].imageID = "sha256:old-nginx"
        #expect(try plan(project(), observed, { $0.targets = ["proxy"]; $0.noDeps = true }) == """
            service proxy
              recreate demo-proxy-1 (image changed)

            """)
    }

    @Test func scaleOneToThreeToOne() throws {
        let three = try plan(project(), upToDate) { $0.scale = ["web": 3]; $0.targets = ["web"] }
        #expect(three == """
            service db
              keep demo-db-1
            service web after db(service_healthy)
              wait db service_healthy
              keep demo-web-1
              create demo-web-2
              create demo-web-3

            """)
        let observed = upToDate + [running("web", 2, hash: "w1", image: "sha256:app"), running("web", 3, hash: "w1", image: "sha256:app")]
        let one = try plan(project(), observed) { $0.targets = ["web"] }
        #expect(one == """
            service db
              keep demo-db-1
            service web after db(service_healthy)
              remove demo-web-3 (scale down)
              remove demo-web-2 (scale down)
              keep demo-web-1

            """)
    }

    /// New replicas take numbers after the highest in use, as Compose does.
    @Test func newReplicasNumberAfterTheHighest() throws {
        let observed = [running("db", hash: "d1", image: "sha256:pg"), running("web", 2, hash: "w1", image: "sha256:app")]
        let text = try plan(project(webReplicas: 2), observed) { $0.targets = ["web"]; $0.noDeps = true }
        #expect(text == """
            service web
              keep demo-web-2
              create demo-web-3

            """)
    }

    @Test func orphansWarnedOrRemoved() throws {
        let observed = upToDate + [running("old", hash: "o", image: "sha256:x")]
        var oneoff = running("web", 7, hash: "w1", image: "sha256:app")
        oneoff.name = "demo-web-run-0123456789ab"
        oneoff.oneoff = true
        let warned = try plan(project(), observed + [oneoff]) { $0.targets = ["db"] }
        #expect(warned == "orphans warn demo-old-1\nservice db\n  keep demo-db-1\n")
        let removed = try plan(project(), observed) { $0.targets = ["db"]; $0.removeOrphans = true }
        #expect(removed == "orphans remove demo-old-1\nservice db\n  keep demo-db-1\n")
    }

    /// `--force-recreate` applies to the targets; their dependencies follow `--always-recreate-deps`.
    @Test func forceRecreate() throws {
        let targets = try plan(project(), upToDate) { $0.targets = ["web"]; $0.recreate = .always }
        #expect(targets == """
            service db
              keep demo-db-1
            service web after db(service_healthy)
              wait db service_healthy
              recreate demo-web-1 (forced)

            """)
        let deps = try plan(project(), upToDate) {
            $0.targets = ["web"]
            $0.recreate = .always
            $0.recreateDependencies = .always
        }
        #expect(deps.contains("recreate demo-db-1 (forced)") && deps.contains("recreate demo-web-1 (forced)"))
        let never = try plan(project(dbHash: "d9"), upToDate) { $0.recreate = .never; $0.recreateDependencies = .never }
        #expect(!never.contains("recreate") && !never.contains("restart"))
    }

    @Test func stoppedContainers() throws {
        var observed = upToDate
        observed[0].phase = .stopped
        observed[1].phase = .stopped
        let text = try plan(project(), observed) { $0.targets = ["web"] }
        #expect(text == """
            service db
              start demo-db-1
            service web after db(service_healthy)
              wait db service_healthy
              start demo-web-1

            """)
        // `create` does not start what it keeps.
        let created = try plan(project(), observed) { $0.targets = ["db"]; $0.start = false }
        #expect(created == "service db\n  keep demo-db-1\n")
    }

    @Test func cyclesAndUnknownServicesAreErrors() throws {
        let cyclic = [
            DesiredService(name: "a", configHash: "", imageID: "", dependencies: [.init(service: "b")]),
            DesiredService(name: "b", configHash: "", imageID: "", dependencies: [.init(service: "a")]),
        ]
        #expect(throws: EngineError.self) { try plan(cyclic, []) }
        do {
            _ = try plan(cyclic, [])
        } catch {
            #expect((error as? EngineError)?.reason == .passed("dependency cycle detected: a -> b -> a"))
        }
        #expect(throws: EngineError.self) { try plan(project(), []) { $0.targets = ["nope"] } }
        #expect(throws: EngineError.self) { try plan(project(), []) { $0.scale = ["nope": 2] } }
    }

    // MARK: - Networks, volumes, images and waits

    /// A changed network, a missing volume, an orphan and a `service_healthy` chain: network,
    /// volume, orphan, then each service's waits and containers, in that order. The network's
    /// containers go with it, so web is made anew rather than recreated.
    @Test func everyKindOfOperationInOrder() throws {
        var observed = upToDate
        observed.append(ObservedContainer(name: "demo-old-1", service: "old", number: 1, configHash: "o", imageID: "x", phase: .running))
        let networks = [
            NetworkNeed(name: "demo_back", hash: "n2", exists: true, existingHash: "n1", attached: ["demo-web-1", "demo-worker-1"]),
            NetworkNeed(name: "demo_front", hash: "f1", exists: false),
            NetworkNeed(name: "shared", external: true, hash: "s1", exists: true, existingHash: "old"),
        ]
        let volumes = [VolumeNeed(key: "data", name: "demo_data", exists: false), VolumeNeed(key: "cache", name: "demo_cache", exists: true)]
        let text = try Reconciler.plan(
            project: "demo", desired: project(), observed: observed, options: ReconcileOptions(), networks: networks,
            volumes: volumes, images: [.pull(image: "postgres:16", platform: nil, services: ["db"]), .build(service: "web")]
        ).text
        #expect(text == """
            image pull postgres:16 for db
            image build web
            network recreate demo_back (config changed)
            network create demo_front
            volume create demo_data
            orphans warn demo-old-1
            service db
              keep demo-db-1
            service web after db(service_healthy)
              wait db service_healthy
              create demo-web-1
            service proxy after web
              keep demo-proxy-1
            service worker after web
              create demo-worker-1

            """)
    }

    /// A network in use by another project cannot be made again.
    @Test func aChangedNetworkUsedByAnotherProjectIsAnError() {
        let networks = [NetworkNeed(name: "demo_back", hash: "n2", exists: true, existingHash: "n1", foreignUser: "x-app-1 of project x")]
        #expect(throws: EngineError.self) {
            try Reconciler.plan(project: "demo", desired: project(), observed: [], options: ReconcileOptions(), networks: networks)
        }
        // Without a recorded digest (made by hand, or by an older version), it is kept.
        let unlabelled = [NetworkNeed(name: "demo_back", hash: "n2", exists: true)]
        #expect((try? Reconciler.plan(project: "demo", desired: project(), observed: [], options: ReconcileOptions(), networks: unlabelled).networks) == [])
    }

    /// No waits where nothing starts: kept services, and `create`.
    @Test func waitsOnlyWhereSomethingStarts() throws {
        #expect(!(try plan(project(), upToDate)).contains("wait"))
        #expect(!(try plan(project(), []) { $0.start = false }).contains("wait"))
        var complete = project()
        complete[1].dependencies = [.init(service: "db", condition: .completedSuccessfully)]
        #expect(try plan(complete, []).contains("  wait db service_completed_successfully\n  create demo-web-1"))
    }

    @Test func imageSteps() {
        let needs = [
            ImageNeed(service: "db", image: "postgres:16", present: false),
            ImageNeed(service: "cache", image: "redis", present: true),
            ImageNeed(service: "db2", image: "postgres:16", present: false),
            ImageNeed(service: "fresh", image: "nginx", present: true, policy: .always),
            ImageNeed(service: "nightly", image: "busybox", present: true, age: 90_000, policy: .periodic(seconds: 86_400)),
            ImageNeed(service: "web", image: "demo-web", builds: true, present: true),
            ImageNeed(service: "api", image: "demo-api", builds: true, present: false),
            ImageNeed(service: "tool", image: "demo-tool", builds: true, present: true, policy: .build),
            ImageNeed(service: "offline", image: "alpine", present: false, policy: .never),
        ]
        #expect(Reconciler.imageSteps(needs, build: .missing) == [
            .pull(image: "postgres:16", platform: nil, services: ["db", "db2"]), .pull(image: "nginx", platform: nil, services: ["fresh"]),
            .pull(image: "busybox", platform: nil, services: ["nightly"]), .build(service: "api"), .build(service: "tool"),
        ])
        let built = Reconciler.imageSteps(needs, build: .always).filter { if case .build = $0 { return true }; return false }
        #expect(built == [.build(service: "web"), .build(service: "api"), .build(service: "tool")])
        #expect(Reconciler.imageSteps(needs, build: .never).allSatisfy { if case .pull = $0 { return true }; return false })
    }
}
