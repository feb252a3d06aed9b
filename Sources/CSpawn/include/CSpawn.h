// SPDX-License-Identifier: Apache-2.0
// The only code that runs between clone and execve. It interprets an init plan built by
// Swift (SComposeRuntime.InitPlan): an array of steps whose strings live in one arena.
// No allocation, no locks, no Swift; errors go back as {step, errno} over a pipe.
#ifndef SCOMPOSE_CSPAWN_H
#define SCOMPOSE_CSPAWN_H

#include <stdint.h>
#include <sys/types.h>

enum sc_step_kind {
    SC_MOUNT = 1,         // s[0] source, s[1] target, s[2] fstype, s[3] data; n[0] flags
    SC_MKDIR = 2,         // s[0] path; n[0] mode
    SC_SYMLINK = 3,       // s[0] target, s[1] link path
    SC_MKNOD = 4,         // s[0] path; n[0] mode, n[1] major, n[2] minor
    SC_PIVOT_ROOT = 5,    // s[0] new root
    SC_SETHOSTNAME = 6,   // s[0] name
    SC_SETRLIMIT = 7,     // n[0] resource, n[1] soft, n[2] hard
    SC_MASK = 8,          // s[0] path (after pivot): /dev/null over files, read-only tmpfs over directories
    SC_READONLY = 9,      // s[0] path (after pivot): remount a bind of itself read-only
    SC_SETGROUPS = 10,    // s[0] comma-separated gids ("" for none)
    SC_SETGID = 11,       // n[0] gid
    SC_SETUID = 12,       // n[0] uid
    SC_NO_NEW_PRIVS = 13,
    SC_CHDIR = 14,        // s[0] path
    SC_WRITE_FILE = 15,   // s[0] path, s[1] content
    SC_EXEC = 16,         // s[0] path, s[1] argv (NUL-separated, ends with an empty string), s[2] envp (same)
    SC_BIND_DEVICE = 17,  // s[0] host device, s[1] target (before pivot): when mknod is not allowed
    SC_LOOPBACK_UP = 19,  // brings up `lo` in the new network namespace
    SC_CAPS = 18,         // n[0] bounding mask (-1: leave), n[1] effective/permitted mask (-1: leave), n[2] ambient mask
    SC_SECCOMP = 20,      // s[0] classic-BPF program (struct sock_filter array), n[0] its length in bytes
    SC_SETSID_TTY = 21,   // new session with standard input (a pty) as controlling terminal
    SC_INIT = 22,         // fork: the caller stays as a reaping init that forwards signals; the child goes on
    SC_UNSHARE_CGROUP = 24, // unshare(CLONE_NEWCGROUP)
    SC_SETNS_NET = 27,    // s[0] a network namespace file (/proc/<pid>/ns/net) to join
    SC_OPEN_ROOT = 25,    // s[0] the assembled root file system: later SC_MOUNT_IN_ROOT targets resolve inside it
    SC_MOUNT_IN_ROOT = 26, // s[0] source, s[1] target (a path in the container), s[2] fstype, s[3] data;
                          // n[0] flags, n[1] bit 0: the target is a file, bit 1: remount read-only afterwards;
                          // n[2] propagation flags to set afterwards (0: none). The target is resolved with
                          // openat2(RESOLVE_IN_ROOT), created if missing, and mounted through /proc/self/fd.
    SC_MAKE_IN_ROOT = 28, // s[0] a directory in the container: made with its missing parents, resolved as for
                          // SC_MOUNT_IN_ROOT (never through a link out of the root)
    SC_CONSOLE = 23,      // s[0] the container's ptmx, s[1] its pts directory (before pivot); n[0] a unix socket:
                          // a pty from the container's devpts becomes stdin/out/err, its master is sent over the socket
};

struct sc_step {
    int32_t kind;
    int32_t s[4];   // arena offsets, -1 for none
    int64_t n[3];
};

struct sc_plan {
    const struct sc_step *steps;
    int32_t count;
    const char *arena;
    int64_t clone_flags;   // CLONE_NEW* flags
    int stdin_fd, stdout_fd, stderr_fd;   // -1: inherit
    int start_fd;   // -1, or a pipe's read end: the child waits for one byte before any step (EOF: it exits)
};

/// What the child reports when a step fails (never sent on success: EOF means execve worked).
struct sc_failure {
    int32_t step;
    int32_t err;
};

/// Clones a child in new namespaces that runs the plan. Returns the child's pid, or -1 with
/// errno set. `report_fd` (close-on-exec, write end) receives a `struct sc_failure` if a step fails.
pid_t sc_container_spawn(const struct sc_plan *plan, int report_fd);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphans of the container are reparented to the caller.
int sc_set_child_subreaper(void);

/// Steps of `sc_exec_spawn` before the plan's own, as reported in `sc_failure.step`: -1 is
/// stdio, -2 joining the cgroups, -3 down to -8 setns into the cgroup, ipc, uts, net, pid and
/// mount namespaces, -9 the fork into the pid namespace.
enum {
    SC_EXEC_STEP_STDIO = -1,
    SC_EXEC_STEP_CGROUP = -2,
    SC_EXEC_STEP_SETNS_CGROUP = -3,
    SC_EXEC_STEP_SETNS_MNT = -8,
    SC_EXEC_STEP_FORK = -9,
};

/// Flags of `sc_exec_spawn`.
enum {
    /// The process gets a session of its own (`exec -d`): the caller's terminal closing or a
    /// Ctrl-C there does not reach it.
    SC_EXEC_DETACH = 1,
};

/// Runs a process inside `target` (a container's init): an intermediate child joins its ipc,
/// uts, net, pid and mount namespaces and forks into the pid namespace; the program's process
/// writes itself into each of `cgroup_procs` (open `cgroup.procs` files of the container's
/// cgroups, so that its limits, device rules and freezer apply), joins the cgroup namespace,
/// then runs the plan's steps (ids, caps, chdir, exec). `flags`: `SC_EXEC_DETACH`. The
/// standard streams are set in the intermediate, which holds none of the caller's. Returns
/// the intermediate's pid, whose exit status is the program's; `report_fd` receives a
/// `struct sc_failure` if a step fails.
///
/// `gate` (or NULL): a pipe, read end first. The intermediate closes the write end and reads
/// one byte from the read end before it forks the program's process, so that the caller can
/// have the intermediate moved into another cgroup first (from where the program may move
/// itself into the container's); end of file instead (the caller closed its end, or ended)
/// is a failure of the cgroup step (EPERM).
pid_t sc_exec_spawn(pid_t target, const struct sc_plan *plan, const int *cgroup_procs, int cgroup_count, int flags, const int *gate, int report_fd);

/// Closes every descriptor from `first` up (close_range, with a loop where the kernel lacks it).
void sc_close_from(int first);

/// Blocks SIGCHLD and returns a non-blocking, close-on-exec signalfd for it (-1 on failure).
int sc_signalfd_sigchld(void);

/// A new pty pair, both ends close-on-exec, the slave not our controlling terminal. 0 or -1.
int sc_open_pty(int *master, int *slave);

/// accept4(listener, close-on-exec) keeping only peers running as root; -1 otherwise.
int sc_accept_root(int listener);

/// Receives one descriptor sent with SCM_RIGHTS on `sock` (-1 if none).
int sc_receive_fd(int sock);

/// A close-on-exec unix stream socket pair.
int sc_socketpair_cloexec(int fds[2]);

/// setns(fd, CLONE_NEWNET): the calling thread enters a network namespace.
int sc_setns_net(int fd);

/// malloc_trim(0): gives freed heap back to the system (glibc).
void sc_malloc_trim(void);

/// pipe2(fds, O_CLOEXEC), a GNU extension.
int sc_pipe_cloexec(int fds[2]);

#endif
