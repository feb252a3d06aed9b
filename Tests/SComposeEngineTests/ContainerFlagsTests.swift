// SPDX-License-Identifier: Apache-2.0
import SComposeSpec
import Testing

@testable import SComposeEngine

/// `docker run`'s flags → the one-container service, read without root: each case writes the
/// flags a user types and looks at what they decide, or at Docker's refusal of them.
@Suite struct ContainerFlagsTests {
    func define(_ image: String = "busybox", _ edit: (inout ContainerRunFlags) -> Void = { _ in }) throws -> ContainerDefinition {
        var flags = ContainerRunFlags(image: image)
        edit(&flags)
        return try ContainerFlags.definition(flags, environment: ["FROM_CALLER": "yes"])
    }

    func reason(_ edit: (inout ContainerRunFlags) -> Void) -> EngineError.Reason? {
        do {
            _ = try define("busybox", edit)
            return nil
        } catch let error as EngineError {
            return error.reason
        } catch {
            return nil
        }
    }

    func ports(_ spec: String) throws -> [String] {
        try ContainerFlags.parsePort(spec).map { "\($0.hostIP ?? "*"):\($0.published ?? "-"):\($0.target)/\($0.proto)" }
    }

    @Test func defaultsJoinTheDefaultBridgeWithNoProjectLabels() throws {
        let d = try define()
        #expect(d.network == "bridge")
        #expect(d.service.name.isEmpty && d.service.image == "busybox")
        #expect(d.service.command == nil && d.service.restart == nil && d.service.labels.isEmpty)
        #expect(d.service.networks.keys.sorted() == ["bridge"])
    }

    @Test func portsAsDockerReadsThem() throws {
        #expect(try ports("80") == ["*:-:80/tcp"])
        #expect(try ports("8080:80") == ["*:8080:80/tcp"])
        #expect(try ports("127.0.0.1:8080:80/udp") == ["127.0.0.1:8080:80/udp"])
        #expect(try ports("127.0.0.1::80") == ["127.0.0.1:-:80/tcp"])
        #expect(try ports("0.0.0.0:53:53/udp") == ["*:53:53/udp"])
        #expect(try ports("8000-8001:80-81") == ["*:8000:80/tcp", "*:8001:81/tcp"])
        #expect(try ports("9000-9010:80") == ["*:9000-9010:80/tcp"])
        for (bad, what) in [("80:abc", "containerPort"), ("x:80", "hostPort"), ("80/icmp", "proto"), ("70000", "containerPort"), ("1.2.3:80:80", "IP address")] {
            #expect(throws: EngineError.self, "\(bad)") { try ContainerFlags.parsePort(bad) }
            do {
                _ = try ContainerFlags.parsePort(bad)
            } catch let error as EngineError {
                if case .invalidValue(let w, _) = error.reason { #expect(w == what, "\(bad)") } else { Issue.record("\(bad): \(error)") }
            } catch {}
        }
    }

    @Test func volumesMountsAndTmpfs() throws {
        let d = try define {
            $0.volumes = ["/srv/data:/data:ro", "cache:/cache", "/anon"]
            $0.mounts = ["type=bind,source=/etc/hosts,target=/h,readonly", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777", "source=v2,target=/v2,volume-nocopy"]
            $0.tmpfs = ["/run:size=64m"]
        }
        let lines = d.service.volumes.map { "\($0.type.rawValue) \($0.source ?? "-") \($0.target) ro=\($0.readOnly) create=\($0.createHostPath) nocopy=\($0.noCopy) size=\($0.tmpfsSize ?? 0)" }
        #expect(lines == [
            "bind /srv/data /data ro=true create=true nocopy=false size=0",
            "volume cache /cache ro=false create=false nocopy=false size=0",
            "volume - /anon ro=false create=false nocopy=false size=0",
            "bind /etc/hosts /h ro=true create=false nocopy=false size=0",
            "tmpfs - /t ro=false create=false nocopy=false size=1048576",
            "volume v2 /v2 ro=false create=false nocopy=true size=0",
        ])
        #expect(d.volumes.keys.sorted() == ["cache", "v2"])
        #expect(d.service.tmpfs == ["/run:size=64m"])
        #expect(reason { $0.volumes = ["./data:/data"] } == .invalidVolumeName("./data"))
        #expect(reason { $0.volumes = ["a:b:c:d"] } == .invalidValue(what: "volume specification", value: "'a:b:c:d'"))
        #expect(reason { $0.mounts = ["type=bind,target=/x"] } == .invalidValue(what: "mount config for type \"bind\"", value: "field Source must not be empty"))
        #expect(reason { $0.mounts = ["type=nfs,target=/x"] } == .invalidValue(what: "mount type", value: "nfs"))
    }

    @Test func environmentLabelsAndCommand() throws {
        let d = try define {
            $0.envFileLines = ["# comment", "", "A=from-file", "B=file", "FROM_CALLER"]
            $0.env = ["B=flag", "NOT_SET", "EMPTY="]
            $0.labels = ["tier=web", "flag"]
            $0.command = ["sh", "-c", "echo hi"]
            $0.entrypoint = "/bin/env"
        }
        #expect(d.service.environment == ["A": "from-file", "B": "flag", "FROM_CALLER": "yes", "EMPTY": ""])
        #expect(d.service.labels == ["tier": "web", "flag": ""])
        #expect(d.service.entrypoint == ["/bin/env"] && d.service.command == ["sh", "-c", "echo hi"])
        // --entrypoint alone clears the image's CMD, as Docker does; an empty one clears both.
        #expect(try define { $0.entrypoint = "top" }.service.command == [])
        #expect(try define { $0.entrypoint = "" }.service.entrypoint == [])
    }

    @Test func networksAndTheirRules() throws {
        #expect(try define { $0.network = "host" }.service.networkMode == "host")
        #expect(try define { $0.network = "none" }.network == nil)
        #expect(try define { $0.network = "container:web" }.service.networkMode == "container:web")
        let joined = try define {
            $0.network = "myproj_default"
            $0.networkAliases = ["cache"]
            $0.hostname = "box"
        }
        #expect(joined.network == "myproj_default" && joined.service.hostname == "box")
        #expect(joined.service.networks["myproj_default"]??.aliases == ["cache"])
        #expect(reason { $0.networkAliases = ["x"] } == .aliasOnDefaultNetwork)
        #expect(reason {
            $0.network = "host"
            $0.publish = ["80"]
        } == nil)
        #expect(try define {
            $0.network = "host"
            $0.publish = ["80"]
        }.service.ports.isEmpty)
        #expect(reason {
            $0.network = "none"
            $0.publish = ["80"]
        } == .conflictingOptions("port publishing and the container type network mode"))
    }

    @Test func runtimeLimitsHealthAndRestart() throws {
        let d = try define {
            $0.memory = "512m"
            $0.cpus = "1.5"
            $0.pidsLimit = 100
            $0.restart = "on-failure:3"
            $0.healthCmd = "wget -q -O- localhost"
            $0.healthInterval = "2s"
            $0.healthRetries = 5
            $0.capAdd = ["NET_ADMIN"]
            $0.readOnly = true
            $0.initProcess = true
            $0.user = "1000:1000"
            $0.workdir = "/app"
            $0.stopTimeout = 3
        }
        #expect(d.service.memLimit == 512 << 20 && d.service.cpus == 1.5 && d.service.pidsLimit == 100)
        #expect(d.service.restart == "on-failure:3")
        #expect(d.service.healthcheck?.test == ["CMD-SHELL", "wget -q -O- localhost"])
        #expect(d.service.healthcheck?.interval == 2_000_000_000 && d.service.healthcheck?.retries == 5)
        #expect(d.service.capAdd == ["NET_ADMIN"] && d.service.readOnly && d.service.initProcess == true)
        #expect(d.service.user == "1000:1000" && d.service.workingDir == "/app")
        #expect(d.service.stopGracePeriod == 3_000_000_000)
        #expect(try define { $0.noHealthcheck = true }.service.healthcheck?.test == ["NONE"])
        #expect(reason {
            $0.autoRemove = true
            $0.restart = "always"
        } == .conflictingOptions("--restart and --rm"))
        #expect(reason { $0.name = "bad name" } == .invalidContainerName("bad name"))
        #expect(reason { $0.memory = "lots" } != nil)
    }

    @Test func hostsResolversLimitsDevicesAndKernelParameters() throws {
        let d = try define {
            $0.addHosts = ["db:10.0.0.5", "gw=host-gateway"]
            $0.dns = ["1.1.1.1"]
            $0.dnsSearch = ["corp"]
            $0.dnsOptions = ["ndots:2"]
            $0.ulimits = ["nofile=1024:2048", "nproc=64"]
            $0.devices = ["/dev/fuse", "/dev/sda:/dev/xvda", "/dev/null:r", "/dev/zero:/dev/z:rw"]
            $0.sysctls = ["net.ipv4.ip_forward=1"]
            $0.shmSize = "128m"
            $0.groupAdd = ["audio", "1234"]
        }
        #expect(d.service.extraHosts == ["db:10.0.0.5", "gw=host-gateway"])
        #expect(d.service.dns == ["1.1.1.1"] && d.service.dnsSearch == ["corp"] && d.service.dnsOpt == ["ndots:2"])
        #expect(d.service.ulimits == ["nofile": Ulimit(soft: 1024, hard: 2048), "nproc": Ulimit(soft: 64, hard: 64)])
        #expect(d.service.devices.map { "\($0.source)>\($0.target):\($0.permissions)" }
            == ["/dev/fuse>/dev/fuse:rwm", "/dev/sda>/dev/xvda:rwm", "/dev/null>/dev/null:r", "/dev/zero>/dev/z:rw"])
        #expect(d.service.sysctls == ["net.ipv4.ip_forward": "1"])
        #expect(d.service.shmSize.map { $0 == 128 << 20 } == true)
        #expect(d.service.groupAdd == ["audio", "1234"])
        // Docker's refusals.
        let refusals: [(ContainerRunFlags) -> ContainerRunFlags] = [
            { var f = $0; f.addHosts = ["nocolon"]; return f },
            { var f = $0; f.ulimits = ["nofile"]; return f },
            { var f = $0; f.ulimits = ["nofile=a:b"]; return f },
            { var f = $0; f.ulimits = ["bogus=1"]; return f },
            { var f = $0; f.ulimits = ["nofile=10:5"]; return f },
            { var f = $0; f.devices = ["sda"]; return f },
            { var f = $0; f.sysctls = ["novalue"]; return f },
            { var f = $0; f.shmSize = "lots"; return f },
        ]
        for refuse in refusals {
            let r = reason { $0 = refuse($0) }
            guard case .invalidValue(let what, _)? = r else {
                Issue.record("accepted or wrong error: \(String(describing: r))")
                continue
            }
            #expect(what.hasPrefix("argument \""))
        }
        if case .invalidValue(let what, let value)? = reason({ $0.ulimits = ["bogus=1"] }) {
            #expect(what == "argument \"bogus=1\" for \"--ulimit\" flag" && value == "invalid ulimit type: bogus")
        }
    }

    /// Without the embedded DNS (the default network), `--dns`, `--dns-search` and
    /// `--dns-option` replace the host's lines of their kind, as Docker writes the file.
    @Test func resolvConfOnTheDefaultNetwork() throws {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\noptions edns0\n"
        let plain = try define().service
        #expect(NetworkNames.resolvConf(host: host, service: plain) == "# generated\nnameserver 10.0.0.2\nsearch lan\noptions edns0\n")
        #expect(NetworkNames.resolvConf(host: "nameserver 127.0.0.1\n", service: plain) == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
        let tuned = try define {
            $0.dns = ["1.1.1.1", "9.9.9.9"]
            $0.dnsSearch = ["corp"]
            $0.dnsOptions = ["ndots:2"]
        }.service
        #expect(NetworkNames.resolvConf(host: host, service: tuned)
            == "# generated\nnameserver 1.1.1.1\nnameserver 9.9.9.9\nsearch corp\noptions ndots:2\n")
        let noSearch = try define { $0.dnsSearch = ["."] }.service
        #expect(NetworkNames.resolvConf(host: host, service: noSearch) == "# generated\nnameserver 10.0.0.2\noptions edns0\n")
    }

    @Test func namesAndReferences() throws {
        var i = 0
        let name = ContainerNames.random(taken: []) { n in
            i += 1
            return i % n
        }
        #expect(name.split(separator: "_").count == 2)
        #expect(ContainerFlags.isValidName("web") && ContainerFlags.isValidName("my.app-1_x"))
        #expect(!ContainerFlags.isValidName("w") && !ContainerFlags.isValidName("-web") && !ContainerFlags.isValidName("a b"))
        // Taken names are never given again.
        let all = Set(ContainerNames.adjectives.flatMap { a in ContainerNames.surnames.map { a + "_" + $0 } })
        #expect(!all.contains(ContainerNames.random(taken: all)))

        func status(_ id: String, _ name: String) -> ContainerStatus {
            let record = ContainerRecord(
                id: id, name: name, project: "", service: "", number: 1, image: "busybox", imageID: "", command: [], created: "",
                configHash: "", labels: [:])
            return ContainerStatus(record: record, running: false)
        }
        let cs = [status("abc123" + String(repeating: "0", count: 58), "web"), status("abd456" + String(repeating: "0", count: 58), "db")]
        #expect(try ContainerNames.resolve("web", in: cs).record.name == "web")
        #expect(try ContainerNames.resolve("/db", in: cs).record.name == "db")
        #expect(try ContainerNames.resolve("abc", in: cs).record.name == "web")
        #expect(throws: EngineError(.ambiguousContainer("ab"))) { try ContainerNames.resolve("ab", in: cs) }
        #expect(throws: EngineError(.noSuchContainer("nope"))) { try ContainerNames.resolve("nope", in: cs) }
    }
}
