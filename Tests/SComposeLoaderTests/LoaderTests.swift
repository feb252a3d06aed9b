// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import SComposeLoader
import SComposeOS
import SComposeSpec

@Suite struct LoaderTests {
    @Test func normalizesAShortFile() throws {
        let p = try TempProject([
            "compose.yaml": """
            services:
              web:
                build: ./app
                ports: ["8080:80"]
                volumes: [./src:/src, data:/data]
                depends_on: [db]
                environment:
                  - MODE=${MODE:-dev}
                healthcheck:
                  test: curl -f http://localhost
                  interval: 90s
              db:
                image: postgres:16
                mem_limit: 1gb
            volumes:
              data: {}
              unused: {}
            """
        ])
        let json = try p.json()
        #expect(json.at("name") as? String == "test")
        #expect(json.at("services.web.build.context") as? String == p.dir + "/app")
        #expect(json.at("services.web.build.dockerfile") as? String == "Dockerfile")
        #expect(json.at("services.web.ports.0.published") as? String == "8080")
        #expect(json.at("services.web.ports.0.target") as? Int == 80)
        #expect(json.at("services.web.volumes.0.source") as? String == p.dir + "/src")
        #expect(json.at("services.web.volumes.0.bind.create_host_path") as? Bool == true)
        #expect(json.at("services.web.depends_on.db.condition") as? String == "service_started")
        #expect(json.at("services.web.environment.MODE") as? String == "dev")
        #expect(json.at("services.web.healthcheck.interval") as? String == "1m30s")
        #expect(json.at("services.web.healthcheck.test.0") as? String == "CMD-SHELL")
        #expect(json.at("services.db.mem_limit") as? String == "1073741824")
        #expect(json.at("networks.default.name") as? String == "test_default")
        #expect(json.at("volumes.data.name") as? String == "test_data")
        #expect(json.at("volumes.unused") == nil)
        #expect(json.keys.contains("services"))
    }

    @Test func dotenvProcessEnvironmentAndOverrideFiles() throws {
        let p = try TempProject([
            ".env": "TAG=from-dotenv\nOTHER=dotenv\n",
            "compose.yaml": "services:\n  app:\n    image: app:${TAG}\n    environment: {A: \"1\", O: $OTHER}\n",
            "compose.override.yaml": "services:\n  app:\n    environment: {B: \"2\"}\n",
        ])
        let json = try p.json(env: ["TAG": "from-env"])
        #expect(json.at("services.app.image") as? String == "app:from-env")
        #expect(json.at("services.app.environment.A") as? String == "1")
        #expect(json.at("services.app.environment.B") as? String == "2")
        #expect(json.at("services.app.environment.O") as? String == "dotenv")
    }

    @Test func extendsIncludeProfilesAndReset() throws {
        let p = try TempProject([
            "compose.yaml": """
            include:
              - lib/db.yaml
            services:
              base:
                image: alpine
                command: sleep 1
                ports: ["1000:1000"]
              child:
                extends: base
                ports: !reset []
              debug:
                image: busybox
                profiles: [debug]
            """,
            "lib/db.yaml": "services:\n  db:\n    image: postgres\n    env_file: db.env\n",
            "lib/db.env": "POSTGRES_PASSWORD=secret\n",
        ])
        var json = try p.json()
        #expect(json.at("services.child.image") as? String == "alpine")
        #expect(json.at("services.child.ports") == nil)
        #expect(json.at("services.debug") == nil)
        #expect(json.at("services.db.environment.POSTGRES_PASSWORD") as? String == "secret")
        json = try p.json(profiles: ["debug"])
        #expect(json.at("services.debug.image") as? String == "busybox")
        #expect(try p.load().profiles == ["debug"])
    }

    @Test func mergesSeveralFiles() throws {
        let p = try TempProject([
            "a.yaml": "services:\n  s:\n    image: a\n    environment: [X=1, Y=1]\n    command: [one]\n",
            "b.yaml": "services:\n  s:\n    environment: {Y: 2}\n    command: [two]\n",
        ])
        let json = try p.json(files: ["a.yaml", "b.yaml"])
        #expect(json.at("services.s.environment.X") as? String == "1")
        #expect(json.at("services.s.environment.Y") as? String == "2")
        #expect(json.at("services.s.command") as? [String] == ["two"])
    }

    // MARK: - Errors name file, line and column

    func error(_ files: [String: String], env: [String: String] = [:]) throws -> LoaderError {
        let p = try TempProject(files)
        do {
            _ = try p.load(env: env)
        } catch let error as LoaderError {
            return error
        }
        throw LoaderError(.invalid, "expected an error")
    }

    @Test func unknownKeyIsReportedWithItsPosition() throws {
        let e = try error(["compose.yaml": "services:\n  app:\n    image: x\n    imagee: y\n"])
        #expect(e.origin?.mark.line == 4)
        #expect(e.origin?.file.hasSuffix("compose.yaml") == true)
        #expect(e.description.contains("additional properties 'imagee' not allowed"))
        #expect(e.description.contains(":4:"))
    }

    @Test func wrongTypeNamesThePath() throws {
        let e = try error(["compose.yaml": "services:\n  app:\n    image: x\n    ports: 80\n"])
        #expect(e.path == "services.app.ports")
        #expect(e.origin?.mark == .init(line: 4, column: 12))
    }

    @Test func badPortNamesTheEntry() throws {
        let e = try error(["compose.yaml": "services:\n  app:\n    image: x\n    ports:\n      - \"80:80\"\n      - eighty\n"])
        #expect(e.path == "services.app.ports[1]")
        #expect(e.origin?.mark.line == 6)
        #expect(e.message.contains("invalid containerPort: eighty"))
    }

    @Test func missingRequiredVariable() throws {
        let e = try error(["compose.yaml": "services:\n  app:\n    image: ${TAG:?TAG is required}\n"])
        #expect(e.kind == .interpolation)
        #expect(e.message.contains("required variable TAG is missing a value: TAG is required"))
        #expect(e.origin?.mark.line == 3)
    }

    @Test func undefinedReferences() throws {
        let network = try error(["compose.yaml": "services:\n  a:\n    image: x\n    networks: [nope]\n"])
        #expect(network.message.contains("refers to undefined network nope"))
        let dep = try error(["compose.yaml": "services:\n  a:\n    image: x\n    depends_on: [b]\n"])
        #expect(dep.message.contains("depends on undefined service \"b\""))
        let volume = try error(["compose.yaml": "services:\n  a:\n    image: x\n    volumes: [data:/d]\n"])
        #expect(volume.message.contains("undefined volume data"))
    }

    @Test func dependencyCycle() throws {
        let e = try error([
            "compose.yaml": "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n"
        ])
        #expect(e.kind == .cycle)
        #expect(e.message.contains("dependency cycle detected"))
    }

    @Test func extendsCycle() throws {
        let e = try error([
            "compose.yaml": "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n    image: x\n"
        ])
        #expect(e.kind == .cycle)
    }

    @Test func duplicateKey() throws {
        let e = try error(["compose.yaml": "services:\n  a:\n    image: x\n    image: y\n"])
        #expect(e.message.contains("mapping key \"image\" already defined at line 3"))
        #expect(e.origin?.mark.line == 4)
    }

    @Test func badDurationAndSize() throws {
        let d = try error(["compose.yaml": "services:\n  a:\n    image: x\n    stop_grace_period: 10 seconds\n"])
        #expect(d.message.contains("time: unknown unit \" seconds\" in duration \"10 seconds\""))
        #expect(d.origin?.mark.line == 4)
        let s = try error(["compose.yaml": "services:\n  a:\n    image: x\n    shm_size: 1zb\n"])
        #expect(s.message.contains("invalid suffix"))
    }

    @Test func noFileFound() throws {
        let p = try TempProject(["README": "nothing"])
        var options = ProjectOptions(environment: [:], currentDirectory: p.dir + "/")
        options.projectName = "x"
        #expect(throws: LoaderError.self) { try Loader.load(options) }
    }

    @Test func projectNames() {
        #expect(ProjectName.normalize("My App_1") == "myapp_1")
        #expect(ProjectName.normalize("--x") == "x")
    }

    @Test func invalidProjectName() throws {
        let p = try TempProject(["compose.yaml": "services:\n  a:\n    image: x\n"])
        #expect(throws: LoaderError.self) { try p.load(name: "Bad Name") }
    }
}

@Suite struct BindingTests {
    @Test func typedModel() throws {
        let p = try TempProject([
            "compose.yaml": """
            services:
              web:
                image: nginx
                command: nginx -g 'daemon off;'
                ports: ["127.0.0.1:8080:80/tcp"]
                volumes: [./html:/usr/share/nginx/html:ro, cache:/cache]
                environment: [A=1, B]
                depends_on:
                  db: {condition: service_healthy}
                healthcheck: {test: [CMD, "true"], interval: 1m30s, retries: 3}
                mem_limit: 512m
                cpus: 1.5
                stop_grace_period: 20s
                ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
                deploy: {replicas: 2}
              db:
                image: postgres:16
            volumes:
              cache: {}
            """
        ])
        let project = try p.load().project
        #expect(project.name == "test")
        #expect(project.serviceNames == ["db", "web"])
        let web = try #require(project.services["web"])
        #expect(web.command == ["nginx", "-g", "daemon off;"])
        #expect(web.entrypoint == nil)
        #expect(web.ports == [PortConfig(target: 80, published: "8080", hostIP: "127.0.0.1")])
        #expect(web.volumes[0].type == .bind && web.volumes[0].readOnly && web.volumes[0].source == p.dir + "/html")
        #expect(web.volumes[1].type == .volume && web.volumes[1].source == "cache")
        #expect(web.environment["A"] == .some("1"))
        #expect(web.environment["B"] == .some(nil))
        #expect(web.dependsOn["db"] == Dependency(condition: .healthy))
        #expect(web.healthcheck?.interval == 90_000_000_000)
        #expect(web.healthcheck?.retries == 3)
        #expect(web.memLimit == 536_870_912)
        #expect(web.cpus == 1.5)
        #expect(web.stopGracePeriod == 20_000_000_000)
        #expect(web.ulimits["nofile"] == Ulimit(soft: 1024, hard: 2048))
        #expect(web.ulimits["nproc"] == Ulimit(soft: 512, hard: 512))
        #expect(web.replicas == 2)
        #expect(web.networks.keys.sorted() == ["default"])
        #expect(project.networks["default"]?.name == "test_default")
        #expect(project.volumes["cache"]?.name == "test_cache")
    }
}

/// Two readings where scompose once differed from Compose: bytes that are not UTF-8, and
/// top-level networks named `x-…`.
@Suite struct LoaderEdgeTests {
    @Test func aFileThatIsNotUTF8IsRejectedAtItsByte() throws {
        let p = try TempProject(["compose.yaml": ""])
        let bytes = Array("services:\n  web:\n    image: busybox\n    environment:\n      A: \"caf".utf8) + [0xE9] + Array("\"\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: p.dir + "/compose.yaml"))
        do {
            _ = try p.load()
            Issue.record("loaded a file that is not UTF-8")
        } catch let error as LoaderError {
            #expect(error.kind == .invalid)
            #expect(error.description == "\(p.dir)/compose.yaml:5:14: invalid UTF-8 at byte offset 66 (0xe9): compose files must be UTF-8")
        }
    }

    @Test func utf8Validation() {
        func offset(_ bytes: [UInt8]) -> Int? { FileSystem.invalidUTF8Offset(bytes) }
        #expect(offset(Array("plain ascii and é, ☃, 𝄞".utf8)) == nil)
        #expect(offset([0x61, 0xC3]) == 1, "cut short")
        #expect(offset([0xC0, 0xAF]) == 0, "overlong")
        #expect(offset([0x61, 0xED, 0xA0, 0x80]) == 1, "a surrogate")
        #expect(offset([0xF4, 0x90, 0x80, 0x80]) == 0, "past U+10FFFF")
        #expect(offset([0xFF, 0xFE, 0x73, 0x00]) == 0, "UTF-16")
        #expect(offset([0xE2, 0x98, 0x83, 0x80]) == 3, "a lone continuation byte")
    }

    @Test func standardInputIsCheckedToo() throws {
        let p = try TempProject([:])
        var options = ProjectOptions(environment: [:], currentDirectory: p.dir)
        options.configFiles = ["-"]
        options.projectName = "test"
        options.readStandardInput = { Array("services:\n  web:\n    image: \"b".utf8) + [0xC3] + Array("\"\n".utf8) }
        #expect(throws: LoaderError.self) { try Loader.load(options) }
    }

    @Test func networksNamedXAreExtensionsNotNetworks() throws {
        let p = try TempProject([
            "compose.yaml": """
            services:
              web:
                image: busybox
                networks: [x-net]
            networks:
              x-net: {}
            """
        ])
        do {
            _ = try p.load()
            Issue.record("a service joined an x- network")
        } catch let error as LoaderError {
            #expect(error.description.hasSuffix("service \"web\" refers to undefined network x-net: invalid compose project"), "\(error)")
        }
        // Unreferenced, it is left out; volumes, secrets and configs named x-… stay definitions.
        let q = try TempProject([
            "a": "",
            "compose.yaml": """
            services:
              web:
                image: busybox
                volumes: ["x-vol:/data"]
                secrets: [x-s]
            networks:
              x-net: {}
            volumes:
              x-vol: {}
            secrets:
              x-s: {file: ./a}
            """,
        ])
        let json = try q.json()
        #expect(json.at("networks.x-net") == nil)
        #expect(json.at("networks.default.name") as? String == "test_default")
        #expect(json.at("volumes.x-vol.name") as? String == "test_x-vol")
        #expect(json.at("secrets.x-s.name") as? String == "test_x-s")
    }
}

/// Numbers past Int64's range in integer fields are errors, not crashes (the fuzz test found
/// `retries: 1e20` trapping), and large integral floats print in full.
@Suite struct LoaderNumberTests {
    @Test func hugeNumbersInIntegerFieldsAreErrors() throws {
        for value in ["1e20", ".inf", "-.inf", ".nan", "-1e19"] {
            let p = try TempProject([
                "compose.yaml": "services:\n  web:\n    image: busybox\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      retries: \(value)\n"
            ])
            #expect(throws: LoaderError.self, "retries: \(value)") { try p.load() }
        }
        let p = try TempProject([
            "compose.yaml": "services:\n  web:\n    image: busybox\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      retries: 3.7\n"
        ])
        #expect(try p.json().at("services.web.healthcheck.retries") as? Int == 3, "truncated, as Compose does")
    }

    @Test func integralFloatsPrintInFull() {
        #expect(JSONValue.double(1e20) == .number("100000000000000000000"))
        #expect(JSONValue.double(-1e20) == .number("-100000000000000000000"))
        #expect(JSONValue.double(42) == .number("42"))
        #expect(JSONValue.double(1e21) == .number("1e+21"))
        #expect(JSONValue.double(0.5).compactText() == "0.5")
    }
}
