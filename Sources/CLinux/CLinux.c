// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "CLinux.h"

dev_t sc_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
unsigned int sc_major(dev_t dev) { return major(dev); }
unsigned int sc_minor(dev_t dev) { return minor(dev); }

int sc_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}

long sc_fgetxattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size); }

long sc_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}

long sc_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }

int sc_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}

int sc_mkostemp(char *template_, int flags) { return mkostemp(template_, flags); }

#include <sys/mman.h>
#include <sys/mount.h>
#include <fcntl.h>

struct sc_how {
    uint64_t flags, mode, resolve;
};

int sc_open_in_root(int dirfd, const char *path, int flags, unsigned int mode) {
    struct sc_how how = {(uint64_t)(flags | O_CLOEXEC), (uint64_t)mode, 0x10 | 0x02};
    return (int)syscall(437 /* openat2 */, dirfd, path, &how, sizeof how);
}

int sc_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
    return mount(source, target, type, flags, data);
}

int sc_umount_detach(const char *target) { return umount2(target, MNT_DETACH); }
int sc_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <string.h>
#include <signal.h>

int sc_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    return (int)syscall(434, pid, 0);
#endif
}

// eBPF instructions by hand (the uapi headers carry no builder macros).
static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    struct bpf_insn i;
    memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst;
    i.src_reg = src;
    i.off = off;
    i.imm = imm;
    return i;
}

#define MAX_DEVICE_INSNS 1024

int sc_attach_device_filter(int cgroup_fd, const struct sc_device_rule *rules, int count) {
    struct bpf_insn prog[MAX_DEVICE_INSNS];
    int n = 0;
    int allows_all = 0;
    if (count * 8 + 8 > MAX_DEVICE_INSNS) {
        errno = E2BIG;
        return -1;
    }
    // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
    prog[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0);
    prog[n++] = insn(BPF_ALU | BPF_MOV | BPF_X, 3, 2, 0, 0);
    prog[n++] = insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xFFFF);
    prog[n++] = insn(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16);
    prog[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, 4, 1, 4, 0);
    prog[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, 5, 1, 8, 0);
    for (int r = 0; r < count; r++) {
        const struct sc_device_rule *rule = &rules[r];
        struct bpf_insn block[8];
        int b = 0;
        int jumps[4];
        int j = 0;
        if (rule->type == 'b' || rule->type == 'c') {
            jumps[j++] = b;
            block[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, 2, 0, 0, rule->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
        }
        if ((rule->access & 7) != 7) {
            // Every requested access bit must be among the rule's.
            block[b++] = insn(BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0);
            block[b++] = insn(BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, rule->access & 7);
            jumps[j++] = b;
            block[b++] = insn(BPF_JMP | BPF_JNE | BPF_X, 1, 3, 0, 0);
        }
        if (rule->major >= 0) {
            jumps[j++] = b;
            block[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, (int32_t)rule->major);
        }
        if (rule->minor >= 0) {
            jumps[j++] = b;
            block[b++] = insn(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)rule->minor);
        }
        block[b++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1);
        block[b++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        // A failed test skips to the next rule's first instruction.
        for (int k = 0; k < j; k++) block[jumps[k]].off = (int16_t)(b - jumps[k] - 1);
        for (int k = 0; k < b; k++) prog[n++] = block[k];
        // A rule that tests nothing (`a`, privileged) allows everything: what follows could
        // never run, and the verifier refuses unreachable instructions.
        if (j == 0) {
            allows_all = 1;
            break;
        }
    }
    if (!allows_all) {
        prog[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
        prog[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }

    union bpf_attr load;
    memset(&load, 0, sizeof load);
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insn_cnt = (uint32_t)n;
    load.insns = (uint64_t)(uintptr_t)prog;
    load.license = (uint64_t)(uintptr_t)"Apache-2.0";
    int prog_fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    if (prog_fd < 0) return -1;
    union bpf_attr attach;
    memset(&attach, 0, sizeof attach);
    attach.target_fd = (uint32_t)cgroup_fd;
    attach.attach_bpf_fd = (uint32_t)prog_fd;
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    int r = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
    int err = errno;
    close(prog_fd);
    errno = err;
    return r;
}

// The self-pipe: written from signal handlers, so only a plain int and write(2).
static volatile int signal_pipe_fds[2] = {-1, -1};

static void signal_pipe_handler(int sig) {
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
    if (signal_pipe_fds[1] >= 0) (void)!write(signal_pipe_fds[1], &byte, 1);
    errno = saved;
}

int sc_signal_pipe(void) {
    if (signal_pipe_fds[0] >= 0) return signal_pipe_fds[0];
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    signal_pipe_fds[1] = fds[1];
    signal_pipe_fds[0] = fds[0];
    return fds[0];
}

int sc_signal_pipe_watch(int sig) {
    if (sc_signal_pipe() < 0) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = signal_pipe_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(sig, &action, NULL) != 0) return -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    return sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int sc_signal_pipe_unwatch(int sig) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    return sigaction(sig, &action, NULL);
}

// MARK: - Rootless namespaces

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

int sc_unshare(int flags) { return unshare(flags); }

int sc_become_root(void) {
    if (setresgid(0, 0, 0) < 0) return -1;
    return setresuid(0, 0, 0);
}

/// Joins the user, mount and network namespaces of the process `_SCOMPOSE_JOIN` names, before
/// any Swift code runs: a user namespace can only be joined by a single-threaded process, and
/// the Swift runtime may start threads. The rootless CLI runs itself again with the variable
/// set (`RootlessHolder.spawnJoined`); any other process is left alone.
__attribute__((constructor)) static void sc_join_rootless_namespaces(void) {
    const char *pid = getenv("_SCOMPOSE_JOIN");
    if (pid == NULL || *pid == 0) return;
    // Joining a mount namespace moves the process to its root: come back to where we were.
    char cwd[4096];
    int haveCwd = getcwd(cwd, sizeof cwd) != NULL;
    static const char *names[] = {"user", "mnt", "net"};
    int fds[3];
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, names[i]);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            dprintf(2, "scompose: cannot open %s: %s (is the namespace holder still running?)\n", path, strerror(errno));
            _exit(125);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (setns(fds[i], 0) < 0) {
            dprintf(2, "scompose: cannot join the %s namespace of process %s: %s\n", names[i], pid, strerror(errno));
            _exit(125);
        }
        close(fds[i]);
    }
    unsetenv("_SCOMPOSE_JOIN");
    if (haveCwd && chdir(cwd) < 0) {
        dprintf(2, "scompose: cannot return to %s in the rootless namespaces: %s\n", cwd, strerror(errno));
        _exit(125);
    }
}

#include <spawn.h>

int sc_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
