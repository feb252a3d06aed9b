// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/socket.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// NOTE: everything below runs in the cloned child of a multithreaded process: only raw
// system calls, no malloc, no stdio, no locks (see ARCHITECTURE-NOTES §2.4, §3.2).

// Writes the decimal digits of `v` at buf[n] and returns the new length (no snprintf here).
static int append_uint(char *buf, int n, unsigned long v) {
    char digits[24];
    int d = 0;
    do {
        digits[d++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (d > 0) buf[n++] = digits[--d];
    return n;
}

#define STACK_SIZE (256 * 1024)
static char child_stack[STACK_SIZE] __attribute__((aligned(16)));

struct child_args {
    const struct sc_plan *plan;
    int report_fd;
};

static const char *str(const struct sc_plan *plan, int32_t offset) {
    return offset < 0 ? NULL : plan->arena + offset;
}

static void fail(int report_fd, int step, int err) {
    struct sc_failure f = {step, err};
    ssize_t r = write(report_fd, &f, sizeof f);
    (void)r;
    _exit(127);
}

// Splits a NUL-separated list ending with an empty string into a fixed array (no malloc).
#define MAX_ARGS 4096
static char *argv_buf[MAX_ARGS];
static char *envp_buf[MAX_ARGS];

static int split_list(const char *list, char **out) {
    int n = 0;
    while (list && *list && n < MAX_ARGS - 1) {
        out[n++] = (char *)list;
        list += strlen(list) + 1;
    }
    out[n] = NULL;
    return n;
}

static int set_groups(const char *csv) {
    gid_t groups[256];
    int n = 0;
    const char *p = csv;
    while (p && *p && n < 256) {
        long v = 0;
        while (*p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
        groups[n++] = (gid_t)v;
        if (*p == ',') p++;
        else break;
    }
    return (int)syscall(SYS_setgroups, n, groups);
}

// bounding >= 0: drop every capability outside it from the bounding set and keep the
// permitted set across the coming setuid. main_set >= 0: set effective, permitted and
// inheritable to it, and the ambient set to `ambient`.
static int apply_caps(int64_t bounding, int64_t main_set, int64_t ambient) {
    if (bounding >= 0) {
        for (int cap = 0; cap <= 63; cap++) {
            if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break;  // beyond the kernel's last cap
            if (!(bounding & (1LL << cap))) {
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return -1;
            }
        }
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return -1;
    }
    if (main_set >= 0) {
        struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        memset(data, 0, sizeof data);
        data[0].effective = data[0].permitted = (uint32_t)(main_set & 0xffffffff);
        data[1].effective = data[1].permitted = (uint32_t)((uint64_t)main_set >> 32);
        if (syscall(SYS_capset, &header, data) < 0) return -1;
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        for (int cap = 0; cap <= 63; cap++) {
            if (ambient & (1LL << cap)) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
        }
    }
    return 0;
}

// Signals back to defaults, nothing blocked: the parent's dispositions must not leak in.
static void reset_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(sig, &sa, NULL);
    }
}

// A program at most BPF_MAXINSNS long, copied to aligned memory before it is installed.
static struct sock_filter seccomp_buf[BPF_MAXINSNS];

static int load_seccomp(const char *bytes, int64_t len) {
    if (len <= 0 || len % (int64_t)sizeof(struct sock_filter) != 0 || len > (int64_t)sizeof seccomp_buf) {
        errno = EINVAL;
        return -1;
    }
    memcpy(seccomp_buf, bytes, (size_t)len);
    struct sock_fprog prog = {(unsigned short)(len / (int64_t)sizeof(struct sock_filter)), seccomp_buf};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static void init_on_signal(int sig) { (void)sig; }

// The init is a fork of the shim: blank the shim's arguments and environment so that
// /proc/1/cmdline reads "init" and /proc/1/environ shows nothing of the host.
static char stat_buf[4096];
static void hide_arguments(void) {
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, stat_buf, sizeof stat_buf - 1);
    close(fd);
    if (n <= 0) return;
    stat_buf[n] = 0;
    char *p = strrchr(stat_buf, ')');
    if (!p) return;
    // Fields after the command: state is field 3; arg_start..env_end are fields 48..51.
    unsigned long values[52];
    int field = 2;
    p++;
    while (*p && field < 51) {
        while (*p == ' ') p++;
        field++;
        unsigned long v = 0;
        while (*p >= '0' && *p <= '9') v = v * 10 + (unsigned long)(*p++ - '0');
        while (*p && *p != ' ') p++;
        values[field] = v;
    }
    if (field < 51) return;
    unsigned long arg_start = values[48], arg_end = values[49], env_start = values[50], env_end = values[51];
    if (arg_end > arg_start) {
        memset((void *)arg_start, 0, arg_end - arg_start);
        if (arg_end - arg_start > 5) memcpy((void *)arg_start, "init", 5);
    }
    if (env_end > env_start) memset((void *)env_start, 0, env_end - env_start);
}

// `init: true`: this process stays pid 1, reaps every orphan, forwards the signals it gets to
// the child, and exits with the child's status (as tini does). Returns 0 in the child.
static int become_init(void) {
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t child = fork();
    if (child < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        return 0;
    }
    // Without a handler, pid 1 of a namespace never sees SIGTERM and friends, even from outside.
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = init_on_signal;
        sigaction(sig, &sa, NULL);
    }
    prctl(PR_SET_NAME, "init", 0, 0, 0);
    hide_arguments();
    // Holds nothing open: not the container's streams, not the parent's report pipe.
    sc_close_from(0);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        for (;;) {
            int status = 0;
            pid_t r = waitpid(-1, &status, WNOHANG);
            if (r <= 0) break;
            if (r == child) {
                if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
                _exit(128 + WTERMSIG(status));
            }
        }
    }
}

static char pts_path[4096];

// A pty from the container's own devpts instance (so ttyname works inside), as runc's
// console socket: the slave becomes the standard streams, the master goes to the parent.
static int open_console(const char *ptmx, const char *pts_dir, int sock) {
    int master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    int unlock = 0, number = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &number) < 0) return -1;
    size_t n = strlen(pts_dir);
    if (n + 16 > sizeof pts_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(pts_path, pts_dir, n);
    pts_path[n++] = '/';
    pts_path[append_uint(pts_path, (int)n, (unsigned long)number)] = 0;
    int slave = open(pts_path, O_RDWR | O_NOCTTY);
    if (slave < 0) return -1;
    for (int fd = 0; fd < 3; fd++) {
        if (dup2(slave, fd) < 0) return -1;
    }
    if (slave > 2) close(slave);
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
    if (sendmsg(sock, &msg, 0) < 0) return -1;
    close(master);
    close(sock);
    return 0;
}

// Mount targets inside the container are resolved as if the root file system were "/", so a
// symlink in the image (`/data -> /../../etc`) can never place a mount on the host.
static int root_fd = -1;

struct sc_open_how {
    uint64_t flags, mode, resolve;
};
#define SC_RESOLVE_NO_MAGICLINKS 0x02
#define SC_RESOLVE_IN_ROOT 0x10
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static int open_in_root(const char *path, int flags) {
    struct sc_open_how how = {(uint64_t)(flags | O_CLOEXEC), 0, SC_RESOLVE_IN_ROOT | SC_RESOLVE_NO_MAGICLINKS};
    return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

static char walk_buf[4096];

// Opens `path` (absolute, in the container) as O_PATH, creating missing directories and, for
// the last component, a directory or an empty file.
static int resolve_target(const char *path, int is_file) {
    size_t len = strlen(path);
    if (len + 1 > sizeof walk_buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(walk_buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (walk_buf[i] != '/' && walk_buf[i] != 0) continue;
        char saved = walk_buf[i];
        walk_buf[i] = 0;
        int last = (i == len) || (saved == '/' && i + 1 >= len);
        int fd = open_in_root(walk_buf, O_PATH);
        if (fd < 0 && errno == ENOENT) {
            // Create it in its (securely resolved) parent.
            char *slash = strrchr(walk_buf, '/');
            int parent;
            if (slash == walk_buf) {
                parent = open_in_root("/", O_PATH | O_DIRECTORY);
            } else {
                *slash = 0;
                parent = open_in_root(walk_buf, O_PATH | O_DIRECTORY);
                *slash = '/';
            }
            if (parent < 0) return -1;
            int r;
            if (last && is_file) {
                int created = openat(parent, slash + 1, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                r = created < 0 ? -1 : 0;
                if (created >= 0) close(created);
            } else {
                r = mkdirat(parent, slash + 1, 0755);
            }
            int err = errno;
            close(parent);
            if (r < 0 && err != EEXIST) {
                errno = err;
                return -1;
            }
            fd = open_in_root(walk_buf, O_PATH);
        }
        if (fd < 0) return -1;
        walk_buf[i] = saved;
        if (last) return fd;
        close(fd);
        if (saved == 0) break;
    }
    errno = EINVAL;
    return -1;
}

static char fd_path[64];

static const char *proc_fd_path(int fd) {
    const char *prefix = "/proc/self/fd/";
    int n = 0;
    for (const char *c = prefix; *c; c++) fd_path[n++] = *c;
    fd_path[append_uint(fd_path, n, (unsigned long)fd)] = 0;
    return fd_path;
}

static int mount_in_root(const char *source, const char *target, const char *fstype, const char *data,
                         unsigned long flags, int64_t options, unsigned long propagation) {
    if (root_fd < 0) {
        errno = EBADF;
        return -1;
    }
    int fd = resolve_target(target, (int)(options & 1));
    if (fd < 0) return -1;
    const char *where = proc_fd_path(fd);
    int r = mount(source, where, fstype, flags, data);
    if (r == 0 && (options & 2)) {
        // The new mount is now what the path names: reopen it before remounting.
        close(fd);
        fd = resolve_target(target, (int)(options & 1));
        if (fd < 0) return -1;
        where = proc_fd_path(fd);
        r = mount(NULL, where, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), NULL);
    }
    if (r == 0 && propagation) {
        close(fd);
        fd = resolve_target(target, (int)(options & 1));
        if (fd < 0) return -1;
        r = mount(NULL, proc_fd_path(fd), NULL, propagation, NULL);
    }
    int err = errno;
    close(fd);
    errno = err;
    return r;
}

static void run_steps(const struct sc_plan *plan, int report) {
    for (int i = 0; i < plan->count; i++) {
        const struct sc_step *s = &plan->steps[i];
        int r = 0;
        switch (s->kind) {
        case SC_MOUNT:
            r = mount(str(plan, s->s[0]), str(plan, s->s[1]), str(plan, s->s[2]), (unsigned long)s->n[0],
                      str(plan, s->s[3]));
            break;
        case SC_MKDIR:
            r = mkdir(str(plan, s->s[0]), (mode_t)s->n[0]);
            if (r < 0 && errno == EEXIST) r = 0;
            break;
        case SC_SYMLINK:
            r = symlink(str(plan, s->s[0]), str(plan, s->s[1]));
            if (r < 0 && errno == EEXIST) r = 0;
            break;
        case SC_MKNOD:
            r = mknod(str(plan, s->s[0]), (mode_t)s->n[0], makedev((unsigned)s->n[1], (unsigned)s->n[2]));
            if (r < 0 && errno == EEXIST) r = 0;
            // The caller's umask must not take 0666 from /dev/null.
            if (r == 0) r = chmod(str(plan, s->s[0]), (mode_t)s->n[0] & 07777);
            break;
        case SC_BIND_DEVICE: {
            int fd = open(str(plan, s->s[1]), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            if (fd >= 0) close(fd);
            r = mount(str(plan, s->s[0]), str(plan, s->s[1]), NULL, MS_BIND, NULL);
            break;
        }
        case SC_PIVOT_ROOT:
            r = chdir(str(plan, s->s[0]));
            if (r == 0) r = (int)syscall(SYS_pivot_root, ".", ".");
            if (r == 0) r = umount2(".", MNT_DETACH);
            if (r == 0) r = chdir("/");
            break;
        case SC_SETHOSTNAME: {
            const char *h = str(plan, s->s[0]);
            r = sethostname(h, strlen(h));
            break;
        }
        case SC_SETRLIMIT: {
            struct rlimit rl = {(rlim_t)s->n[1], (rlim_t)s->n[2]};
            r = setrlimit((int)s->n[0], &rl);
            break;
        }
        case SC_MASK: {
            const char *p = str(plan, s->s[0]);
            struct stat st;
            if (stat(p, &st) < 0) {
                r = (errno == ENOENT) ? 0 : -1;
            } else if (S_ISDIR(st.st_mode)) {
                r = mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL);
            } else {
                r = mount("/dev/null", p, NULL, MS_BIND, NULL);
            }
            break;
        }
        case SC_READONLY: {
            const char *p = str(plan, s->s[0]);
            r = mount(p, p, NULL, MS_BIND | MS_REC, NULL);
            if (r < 0 && errno == ENOENT) {
                r = 0;
                break;
            }
            if (r == 0) r = mount(p, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL);
            break;
        }
        case SC_SETGROUPS: r = set_groups(str(plan, s->s[0])); break;
        case SC_SETGID: r = (int)syscall(SYS_setresgid, (gid_t)s->n[0], (gid_t)s->n[0], (gid_t)s->n[0]); break;
        case SC_SETUID: r = (int)syscall(SYS_setresuid, (uid_t)s->n[0], (uid_t)s->n[0], (uid_t)s->n[0]); break;
        case SC_NO_NEW_PRIVS: r = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); break;
        case SC_CHDIR: r = chdir(str(plan, s->s[0])); break;
        case SC_CAPS: r = apply_caps(s->n[0], s->n[1], s->n[2]); break;
        case SC_SECCOMP: r = load_seccomp(str(plan, s->s[0]), s->n[0]); break;
        case SC_SETSID_TTY:
            r = (setsid() < 0) ? -1 : ioctl(0, TIOCSCTTY, 0);
            break;
        case SC_INIT: r = become_init(); break;
        case SC_UNSHARE_CGROUP: r = unshare(CLONE_NEWCGROUP); break;
        case SC_SETNS_NET: {
            int fd = open(str(plan, s->s[0]), O_RDONLY | O_CLOEXEC);
            r = fd < 0 ? -1 : setns(fd, CLONE_NEWNET);
            if (fd >= 0) close(fd);
            break;
        }
        case SC_OPEN_ROOT:
            root_fd = open(str(plan, s->s[0]), O_PATH | O_DIRECTORY | O_CLOEXEC);
            r = root_fd < 0 ? -1 : 0;
            break;
        case SC_MOUNT_IN_ROOT:
            r = mount_in_root(str(plan, s->s[0]), str(plan, s->s[1]), str(plan, s->s[2]), str(plan, s->s[3]),
                              (unsigned long)s->n[0], s->n[1], (unsigned long)s->n[2]);
            break;
        case SC_MAKE_IN_ROOT: {
            if (root_fd < 0) {
                errno = EBADF;
                r = -1;
                break;
            }
            int fd = resolve_target(str(plan, s->s[0]), 0);
            r = fd < 0 ? -1 : 0;
            if (fd >= 0) close(fd);
            break;
        }
        case SC_CONSOLE: r = open_console(str(plan, s->s[0]), str(plan, s->s[1]), (int)s->n[0]); break;
        case SC_LOOPBACK_UP: {
            int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (sock < 0) {
                r = -1;
                break;
            }
            struct ifreq ifr;
            memset(&ifr, 0, sizeof ifr);
            memcpy(ifr.ifr_name, "lo", 3);
            r = ioctl(sock, SIOCGIFFLAGS, &ifr);
            if (r == 0) {
                ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
                r = ioctl(sock, SIOCSIFFLAGS, &ifr);
            }
            close(sock);
            break;
        }
        case SC_WRITE_FILE: {
            int fd = open(str(plan, s->s[0]), O_WRONLY | O_CLOEXEC);
            if (fd < 0) {
                r = -1;
                break;
            }
            const char *c = str(plan, s->s[1]);
            ssize_t len = (ssize_t)strlen(c);
            r = (write(fd, c, (size_t)len) == len) ? 0 : -1;
            close(fd);
            break;
        }
        case SC_EXEC:
            split_list(str(plan, s->s[1]), argv_buf);
            split_list(str(plan, s->s[2]), envp_buf);
            execve(str(plan, s->s[0]), argv_buf, envp_buf);
            r = -1;
            break;
        default:
            errno = EINVAL;
            r = -1;
        }
        if (r < 0) fail(report, i, errno);
    }
    fail(report, plan->count, ENOEXEC);
}

static int child_main(void *raw) {
    struct child_args *args = raw;
    const struct sc_plan *plan = args->plan;
    int report = args->report_fd;

    reset_signals();
    if (plan->start_fd >= 0) {
        // The parent places us in our cgroup first; EOF means it gave up on us.
        char go;
        ssize_t n;
        do {
            n = read(plan->start_fd, &go, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(126);
        close(plan->start_fd);
    }
    if (plan->stdin_fd >= 0 && dup2(plan->stdin_fd, 0) < 0) fail(report, -1, errno);
    if (plan->stdout_fd >= 0 && dup2(plan->stdout_fd, 1) < 0) fail(report, -1, errno);
    if (plan->stderr_fd >= 0 && dup2(plan->stderr_fd, 2) < 0) fail(report, -1, errno);

    run_steps(plan, report);
    fail(report, plan->count, ENOEXEC);
    return 127;
}

pid_t sc_container_spawn(const struct sc_plan *plan, int report_fd) {
    // Without CLONE_VM the child gets a copy-on-write copy of the parent's memory, this
    // stack frame included, so pointing at a local is safe.
    struct child_args args = {plan, report_fd};
    int flags = (int)plan->clone_flags | SIGCHLD;
    return clone(child_main, child_stack + STACK_SIZE, flags, &args);
}

#include <malloc.h>
int sc_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }
void sc_malloc_trim(void) { malloc_trim(0); }

int sc_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int sc_open_pty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -1;
    char name[128];
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
        int err = errno;
        close(m);
        errno = err;
        return -1;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int err = errno;
        close(m);
        errno = err;
        return -1;
    }
    *master = m;
    *slave = s;
    return 0;
}

int sc_accept_root(int listener) {
    int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) return -1;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
        close(conn);
        errno = EPERM;
        return -1;
    }
    return conn;
}

int sc_receive_fd(int sock) {
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0) return -1;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
    return fd;
}

int sc_socketpair_cloexec(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }

int sc_signalfd_sigchld(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int sc_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

void sc_close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
    for (int fd = first; fd < 65536; fd++) close(fd);
}

/// Marks every descriptor from `first` up close-on-exec: what the caller left open must not
/// reach a program in a container (runc does the same), while the report pipe stays usable
/// until execve.
static void cloexec_from(int first) {
#ifdef SYS_close_range
    // CLOSE_RANGE_CLOEXEC (Linux 5.11)
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 1U << 2) == 0) return;
#endif
    for (int fd = first; fd < 65536; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
}

pid_t sc_exec_spawn(pid_t target, const struct sc_plan *plan, const int *cgroup_procs, int cgroup_count, int flags, const int *gate, int report_fd) {
    // Namespace files are opened before fork: only raw calls happen in the children. The
    // cgroup namespace (first) is joined by the program's process, after the cgroups themselves.
    static const char *names[] = {"cgroup", "ipc", "uts", "net", "pid", "mnt"};
    enum { COUNT = 6 };
    int fds[COUNT];
    char path[64];
    for (int i = 0; i < COUNT; i++) {
        int n = 0;
        const char *prefix = "/proc/";
        for (const char *c = prefix; *c; c++) path[n++] = *c;
        n = append_uint(path, n, (unsigned long)target);
        const char *ns = "/ns/";
        for (const char *c = ns; *c; c++) path[n++] = *c;
        for (const char *c = names[i]; *c; c++) path[n++] = *c;
        path[n] = 0;
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            int err = errno;
            for (int j = 0; j < i; j++) if (fds[j] >= 0) close(fds[j]);
            errno = err;
            return -1;
        }
        // A namespace the caller is already in is not joined again: joining takes
        // CAP_SYS_ADMIN over its owner, which a rootless caller lacks for the host's cgroup
        // namespace that a container without a cgroup of its own shares with it.
        char own[32] = "/proc/self/ns/";
        int m = 14;
        for (const char *c = names[i]; *c; c++) own[m++] = *c;
        own[m] = 0;
        struct stat theirs, ours;
        if (fstat(fds[i], &theirs) == 0 && stat(own, &ours) == 0 && theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    pid_t pid = fork();
    if (pid != 0) {
        for (int i = 0; i < COUNT; i++) if (fds[i] >= 0) close(fds[i]);
        return pid;
    }
    // Child (of a multithreaded parent): raw system calls only. It stays in the caller's
    // cgroups: only the program counts against the container's pids (as with runc).
    reset_signals();
    for (int i = 1; i < COUNT; i++) {
        if (fds[i] < 0) continue;
        if (setns(fds[i], 0) < 0) fail(report_fd, SC_EXEC_STEP_SETNS_CGROUP - i, errno);
        close(fds[i]);
    }
    // A detached process outlives the caller and its terminal.
    if ((flags & SC_EXEC_DETACH) && setsid() < 0) fail(report_fd, SC_EXEC_STEP_STDIO, errno);
    // The intermediate takes the program's streams too: it must not hold the caller's (a
    // detached exec's caller reading our output to its end would wait for the program).
    if (plan->stdin_fd >= 0 && dup2(plan->stdin_fd, 0) < 0) fail(report_fd, SC_EXEC_STEP_STDIO, errno);
    if (plan->stdout_fd >= 0 && dup2(plan->stdout_fd, 1) < 0) fail(report_fd, SC_EXEC_STEP_STDIO, errno);
    if (plan->stderr_fd >= 0 && dup2(plan->stderr_fd, 2) < 0) fail(report_fd, SC_EXEC_STEP_STDIO, errno);
    // The caller may first have the intermediate moved (rootless: by the user's systemd manager
    // into the container's scope); the program's process inherits where it is.
    if (gate) {
        // Our copy of the write end would keep the read below from ever seeing the caller's end.
        close(gate[1]);
        char go = 0;
        ssize_t got;
        do {
            got = read(gate[0], &go, 1);
        } while (got < 0 && errno == EINTR);
        if (got != 1) fail(report_fd, SC_EXEC_STEP_CGROUP, got < 0 ? errno : EPERM);
        close(gate[0]);
    }
    // setns into a pid namespace applies to children: fork once more.
    pid_t inner = fork();
    // Killing the intermediate (a healthcheck that timed out) kills the program too.
    if (inner == 0) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (inner < 0) fail(report_fd, SC_EXEC_STEP_FORK, errno);
    if (inner > 0) {
        // The program's process reports from here on; its execve closes the last write end,
        // which tells the caller that it runs (the caller would otherwise wait for its end).
        // Nothing else of the caller's is kept either: a pipe it reads to its end is not held.
        sc_close_from(3);
        int status = 0;
        while (waitpid(inner, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
        _exit(128 + WTERMSIG(status));
    }
    // Into the container's cgroups before any step, so that its limits, device rules and
    // freezer cover the program and every child it makes ("0" names the writer; the files
    // were opened outside). This precedes joining the cgroup namespace: with nsdelegate
    // (cgroup v2) a process inside a namespace may not move itself across its boundary.
    for (int i = 0; i < cgroup_count; i++) {
        if (write(cgroup_procs[i], "0", 1) != 1) fail(report_fd, SC_EXEC_STEP_CGROUP, errno);
    }
    if (fds[0] >= 0) {
        if (setns(fds[0], 0) < 0) fail(report_fd, SC_EXEC_STEP_SETNS_CGROUP, errno);
        close(fds[0]);
    }
    cloexec_from(3);
    run_steps(plan, report_fd);
    _exit(127);
}
