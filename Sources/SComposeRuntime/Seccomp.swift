// SPDX-License-Identifier: Apache-2.0
import CLinux
import CSeccomp

#if canImport(Glibc)
import Glibc
#endif

/// Docker's default seccomp profile, in effect: every system call the kernel (as libseccomp
/// knows it) offers is allowed except the ones Docker's allow-list leaves out, some of which
/// open up with a capability; a few are allowed only with certain arguments. Blocked calls fail
/// with EPERM (Docker's `defaultErrnoRet`), `clone3` with ENOSYS so libc falls back to `clone`.
///
/// The program is compiled with libseccomp in the parent and installed by the C step list
/// between clone and execve (`prctl(PR_SET_SECCOMP)`), as classic BPF bytes.
public enum SeccompProfile {
    /// Never allowed: kernel keyring, module and kexec loading, swap, obsolete or unimplemented
    /// calls, NUMA page moves, userfaultfd, io_uring (Docker 25+ blocks it).
    static let blocked: Set<String> = [
        "_sysctl", "add_key", "afs_syscall", "create_module", "get_kernel_syms", "getpmsg", "io_uring_enter",
        "io_uring_register", "io_uring_setup", "kexec_file_load", "kexec_load", "keyctl", "migrate_pages",
        "move_pages", "nfsservctl", "pivot_root", "putpmsg", "query_module", "request_key", "security", "swapoff",
        "swapon", "sysfs", "tuxcall", "uselib", "userfaultfd", "ustat", "vserver",
    ]

    /// Allowed only when the container has the capability (by number).
    static let byCapability: [Int: [String]] = [
        2: ["open_by_handle_at"],  // CAP_DAC_READ_SEARCH
        16: ["delete_module", "init_module", "finit_module"],  // CAP_SYS_MODULE
        17: ["iopl", "ioperm"],  // CAP_SYS_RAWIO
        18: ["chroot"],  // CAP_SYS_CHROOT
        19: ["kcmp", "pidfd_getfd", "process_madvise"],  // CAP_SYS_PTRACE
        20: ["acct"],  // CAP_SYS_PACCT
        21: [  // CAP_SYS_ADMIN
            "bpf", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
            "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
            "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
            "syslog", "umount", "umount2", "unshare",
        ],
        22: ["reboot"],  // CAP_SYS_BOOT
        23: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],  // CAP_SYS_NICE
        25: ["settimeofday", "stime", "clock_settime", "clock_settime64"],  // CAP_SYS_TIME
        26: ["vhangup"],  // CAP_SYS_TTY_CONFIG
        34: ["syslog"],  // CAP_SYSLOG
        38: ["perf_event_open"],  // CAP_PERFMON
        39: ["bpf"],  // CAP_BPF
    ]

    /// `clone` with any CLONE_NEW* flag (namespaces) needs CAP_SYS_ADMIN.
    static let cloneNamespaceFlags: UInt64 = 0x7E02_0000
    /// The `personality` values allowed (Linux, and the two flag combinations libc uses).
    static let personalities: [UInt64] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff]
    /// Socket families refused: AF_ALG (kernel crypto) and AF_VSOCK.
    static let refusedSocketFamilies: [UInt64] = [38, 40]

    static let EPERM_ACTION: UInt32 = 0x0005_0000 | UInt32(EPERM)
    static let ENOSYS_ACTION: UInt32 = 0x0005_0000 | UInt32(ENOSYS)
    static let ALLOW_ACTION: UInt32 = 0x7fff_0000

    /// Why a profile could not be compiled.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The names libseccomp knows for this machine's architecture.
    static func knownSyscalls() -> [String] {
        var names: [String] = []
        for number in 0..<1024 {
            guard let c = seccomp_syscall_resolve_num_arch(UInt32(SCMP_ARCH_NATIVE), Int32(number)) else { continue }
            names.append(String(cString: c))
            free(c)
        }
        return names
    }

    /// The classic-BPF program (an array of `struct sock_filter`) for a container with `capabilities`.
    public static func compile(capabilities: Set<Int>) throws(Failure) -> [UInt8] {
        guard let ctx = seccomp_init(EPERM_ACTION) else { throw Failure(description: "seccomp_init failed") }
        defer { seccomp_release(ctx) }
        // A foreign-architecture call (32-bit on a 64-bit host) fails rather than kills.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, EPERM_ACTION)
        var allowed = Set(knownSyscalls()).subtracting(blocked)
        var gated = Set<String>()
        for (cap, names) in byCapability {
            if capabilities.contains(cap) { continue }
            gated.formUnion(names)
        }
        for (cap, names) in byCapability where capabilities.contains(cap) { gated.subtract(names) }
        allowed.subtract(gated)
        // Handled with argument rules below.
        for special in ["clone", "clone3", "personality", "socket"] { allowed.remove(special) }

        func rule(_ action: UInt32, _ name: String, _ args: [scmp_arg_cmp] = []) throws(Failure) {
            let number = seccomp_syscall_resolve_name(name)
            guard number != __NR_SCMP_ERROR else { return }  // not on this architecture
            let r = args.withUnsafeBufferPointer { seccomp_rule_add_array(ctx, action, number, UInt32($0.count), $0.baseAddress) }
            if r < 0 && r != -EEXIST {
                throw Failure(description: "seccomp rule for \(name): \(String(cString: strerror(-r)))")
            }
        }
        for name in allowed.sorted() { try rule(ALLOW_ACTION, name) }
        if capabilities.contains(21) {
            try rule(ALLOW_ACTION, "clone")
            try rule(ALLOW_ACTION, "clone3")
        } else {
            try rule(ALLOW_ACTION, "clone", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_MASKED_EQ, datum_a: cloneNamespaceFlags, datum_b: 0)])
            try rule(ENOSYS_ACTION, "clone3")
        }
        for value in personalities {
            try rule(ALLOW_ACTION, "personality", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: value, datum_b: 0)])
        }
        try rule(ALLOW_ACTION, "socket", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_LT, datum_a: 38, datum_b: 0)])
        try rule(ALLOW_ACTION, "socket", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_EQ, datum_a: 39, datum_b: 0)])
        try rule(ALLOW_ACTION, "socket", [scmp_arg_cmp(arg: 0, op: SCMP_CMP_GT, datum_a: 40, datum_b: 0)])

        // libseccomp 2.5 exports only to a descriptor.
        let fd = sc_memfd("seccomp")
        guard fd >= 0 else { throw Failure(description: "memfd_create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let r = seccomp_export_bpf(ctx, fd)
        guard r == 0 else { throw Failure(description: "seccomp_export_bpf: \(String(cString: strerror(-r)))") }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { throw Failure(description: "empty seccomp program") }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == Int(size) else { throw Failure(description: "reading the seccomp program failed") }
        return bytes
    }
}
