// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// NOTE: everything below runs in the cloned child of a multithreaded process: only raw
// system calls, no malloc, no stdio, no locks (see ARCHITECTURE-NOTES §2.4, §3.2).

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

int sc_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int sc_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

void sc_close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
    for (int fd = first; fd < 65536; fd++) close(fd);
}


pid_t sc_exec_spawn(pid_t target, const struct sc_plan *plan, int report_fd) {
    // Namespace files are opened before fork: only raw calls happen in the child.
    static const char *names[] = {"ipc", "uts", "net", "pid", "mnt"};
    int fds[5];
    char path[64];
    for (int i = 0; i < 5; i++) {
        int n = 0;
        const char *prefix = "/proc/";
        for (const char *c = prefix; *c; c++) path[n++] = *c;
        char digits[16];
        int d = 0;
        pid_t v = target;
        do {
            digits[d++] = (char)('0' + v % 10);
            v /= 10;
        } while (v > 0);
        while (d > 0) path[n++] = digits[--d];
        const char *ns = "/ns/";
        for (const char *c = ns; *c; c++) path[n++] = *c;
        for (const char *c = names[i]; *c; c++) path[n++] = *c;
        path[n] = 0;
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            int err = errno;
            for (int j = 0; j < i; j++) close(fds[j]);
            errno = err;
            return -1;
        }
    }
    pid_t pid = fork();
    if (pid != 0) {
        for (int i = 0; i < 5; i++) close(fds[i]);
        return pid;
    }
    // Child (of a multithreaded parent): raw system calls only.
    reset_signals();
    for (int i = 0; i < 5; i++) {
        if (setns(fds[i], 0) < 0) fail(report_fd, -2 - i, errno);
        close(fds[i]);
    }
    // setns into a pid namespace applies to children: fork once more.
    pid_t inner = fork();
    if (inner < 0) fail(report_fd, -7, errno);
    if (inner > 0) {
        int status = 0;
        while (waitpid(inner, &status, 0) < 0 && errno == EINTR) {
        }
        if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
        _exit(128 + WTERMSIG(status));
    }
    run_steps(plan, report_fd);
    _exit(127);
}
