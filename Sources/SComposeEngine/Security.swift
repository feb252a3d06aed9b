// SPDX-License-Identifier: Apache-2.0
import SComposeRuntime
import SComposeSpec

#if canImport(Glibc)
import Glibc
#endif

/// A service's security settings turned into the runtime's: capabilities, seccomp,
/// no_new_privs, ulimits and sysctls, checked as Docker checks them.
enum Security {
    /// Capability numbers by name (without `CAP_`), as in linux/capability.h.
    static let capabilities: [String: Int] = [
        "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
        "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11,
        "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
        "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
        "SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29,
        "AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
        "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
    ]

    static func capability(_ name: String) throws -> Int {
        var key = name.uppercased()
        if key.hasPrefix("CAP_") { key.removeFirst(4) }
        guard let n = capabilities[key] else { throw EngineError(.invalidValue(what: "capability", value: name)) }
        return n
    }

    /// `security_opt` entries as (key, value, the entry): `key=value` or the older `key:value`.
    static func securityOptions(_ service: ServiceConfig) -> [(key: String, value: String, option: String)] {
        service.securityOpt.map { option in
            let parts = option.split(maxSplits: 1, whereSeparator: { $0 == "=" || $0 == ":" }).map(String.init)
            return (parts.first ?? "", parts.count > 1 ? parts[1] : "", option)
        }
    }

    /// The AppArmor profile `security_opt` asks for (`apparmor=NAME`), if any.
    static func appArmorRequest(_ service: ServiceConfig) -> String? {
        securityOptions(service).last { $0.key == "apparmor" && !$0.value.isEmpty }?.value
    }

    /// Docker's set with `cap_add` then `cap_drop` applied (`ALL` in either), seccomp,
    /// no_new_privs, the AppArmor profile resolved from `appArmorRequest` (loading it is I/O),
    /// and ulimits.
    static func apply(_ service: ServiceConfig, appArmorProfile: String?, to config: inout ContainerConfig) throws {
        var caps = SecurityDefaults.capabilities
        let all = Set(capabilities.values)
        if service.capAdd.contains(where: { $0.uppercased() == "ALL" || $0.uppercased() == "CAP_ALL" }) {
            caps = all
        } else {
            for name in service.capAdd { caps.insert(try capability(name)) }
        }
        if service.capDrop.contains(where: { $0.uppercased() == "ALL" || $0.uppercased() == "CAP_ALL" }) {
            // Drop everything, then what was added explicitly comes back (Docker's order).
            caps = try Set(service.capAdd.filter { $0.uppercased() != "ALL" }.map(capability))
        } else {
            for name in service.capDrop { caps.remove(try capability(name)) }
        }
        config.capabilities = caps
        for (key, value, option) in securityOptions(service) {
            switch key {
            case "no-new-privileges":
                guard value.isEmpty || value == "true" || value == "false" else {
                    throw EngineError(.invalidValue(what: "--security-opt", value: option))
                }
                config.noNewPrivileges = value != "false"
            case "seccomp":
                guard value == "unconfined" else {
                    throw EngineError(.unsupported("security_opt \"\(option)\": only seccomp=unconfined is supported (custom profiles are not)"))
                }
                config.seccomp = false
            case "apparmor":
                guard !value.isEmpty else { throw EngineError(.invalidValue(what: "--security-opt", value: option)) }
            case "label", "systempaths":
                // No SELinux support; systempaths=unconfined is honoured below.
                if key == "systempaths" && value != "unconfined" { throw EngineError(.invalidValue(what: "--security-opt", value: option)) }
            default:
                throw EngineError(.invalidValue(what: "--security-opt", value: option))
            }
        }
        config.appArmorProfile = appArmorProfile
        for (name, limit) in service.ulimits.sorted(by: { $0.key < $1.key }) {
            guard let resource = rlimits[name] else { throw EngineError(.invalidValue(what: "ulimit type", value: name)) }
            guard limit.soft <= limit.hard else {
                throw EngineError(.invalidValue(what: "ulimit \(name)", value: "soft limit \(limit.soft) is above the hard limit \(limit.hard)"))
            }
            func value(_ v: Int64) -> UInt64 { v < 0 ? UInt64.max : UInt64(v) }
            config.rlimits.append(.init(resource: resource, soft: value(limit.soft), hard: value(limit.hard)))
        }
    }

    /// `RLIMIT_*` by ulimit name, as docker's.
    static let rlimits: [String: Int32] = [
        "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7, "memlock": 8,
        "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
    ]

    /// Only namespaced sysctls may be set, as Docker's validation: IPC ones, and network ones
    /// unless the container shares the host's network.
    static func checkSysctls(_ sysctls: [String: String], hostNetwork: Bool) throws {
        let ipc: Set<String> = [
            "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
            "kernel.shmmni", "kernel.shm_rmid_forced",
        ]
        for key in sysctls.keys.sorted() {
            if ipc.contains(key) || key.hasPrefix("fs.mqueue.") { continue }
            if key.hasPrefix("net.") {
                if hostNetwork { throw EngineError(.invalidValue(what: "sysctl in host network mode", value: key)) }
                continue
            }
            throw EngineError(.invalidValue(what: "sysctl (not namespaced)", value: key))
        }
    }
}

/// Signal names as docker accepts them (`SIGTERM`, `TERM`, `15`).
public enum Signals {
    static let names: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT, "BUS": SIGBUS,
        "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE,
        "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": 16, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP,
        "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
        "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    /// The number of a signal given by name or number.
    public static func number(_ text: String) throws -> Int32 {
        if let n = Int32(text), n > 0, n < 65 { return n }
        var key = text.uppercased()
        if key.hasPrefix("SIG") { key.removeFirst(3) }
        if let n = names[key] { return n }
        if key.hasPrefix("RTMIN+"), let k = Int32(key.dropFirst(6)), 34 + k < 65 { return 34 + k }
        throw EngineError(.invalidValue(what: "signal", value: text))
    }
}
