// SPDX-License-Identifier: Apache-2.0
// Thin wrappers for what Swift cannot call directly (macros, GNU extensions).
#ifndef SCOMPOSE_CLINUX_H
#define SCOMPOSE_CLINUX_H

#include <stdint.h>
#include <sys/types.h>

/// makedev(3), a macro in glibc.
dev_t sc_makedev(unsigned int major, unsigned int minor);
/// major(3) and minor(3), macros in glibc.
unsigned int sc_major(dev_t dev);
unsigned int sc_minor(dev_t dev);
/// fsetxattr(2).
int sc_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
/// fgetxattr(2).
long sc_fgetxattr(int fd, const char *name, void *value, size_t size);
/// lgetxattr(2).
long sc_lgetxattr(const char *path, const char *name, void *value, size_t size);
/// llistxattr(2).
long sc_llistxattr(const char *path, char *list, size_t size);
/// lsetxattr(2).
int sc_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
/// mkostemp(3), a GNU extension.
int sc_mkostemp(char *template_, int flags);

/// memfd_create(name, MFD_CLOEXEC), a GNU extension.
int sc_memfd(const char *name);

/// pidfd_open(pid, 0) (Linux 5.3): readable once the process has ended; -1 with errno.
int sc_pidfd_open(pid_t pid);

/// O_PATH and AT_EMPTY_PATH (GNU extensions Swift's Glibc leaves out).
static const int SC_O_PATH = 010000000;
static const int SC_AT_EMPTY_PATH = 0x1000;

/// openat2(dirfd, path, flags | O_CLOEXEC, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `path` is
/// resolved as if `dirfd` were the root, so no symlink leads out of it.
int sc_open_in_root(int dirfd, const char *path, int flags, unsigned int mode);

/// The mount and umount2 system calls (thin wrappers for Swift).
int sc_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data);
int sc_umount_detach(const char *target);

/// A device cgroup rule: type 'a' (all), 'b' or 'c'; major/minor -1 for any; access bits
/// 1 mknod, 2 read, 4 write.
struct sc_device_rule {
    char type;
    int64_t major, minor;
    int access;
};

/// cgroup v2: loads a BPF_PROG_TYPE_CGROUP_DEVICE program that allows exactly `rules` (and
/// denies the rest) and attaches it to the cgroup directory `cgroup_fd`. 0, or -1 with errno.
int sc_attach_device_filter(int cgroup_fd, const struct sc_device_rule *rules, int count);

/// The self-pipe of signals: the read end of a non-blocking, close-on-exec pipe (made on the
/// first call) to which the handler `sc_signal_pipe_watch` installs writes each delivered
/// signal's number as one byte. -1 with errno set when the pipe cannot be made.
int sc_signal_pipe(void);
/// Delivers `sig` to the self-pipe from now on (making the pipe if needed); also unblocks it.
/// The handler is C and async-signal-safe: it only writes a byte and keeps errno.
int sc_signal_pipe_watch(int sig);
/// Gives `sig` its default disposition again.
int sc_signal_pipe_unwatch(int sig);

/// unshare(2), which glibc declares only with _GNU_SOURCE.
int sc_unshare(int flags);
/// setresgid(0, 0, 0) then setresuid(0, 0, 0): root of a user namespace just mapped.
int sc_become_root(void);
/// Namespace flags for sc_unshare (linux/sched.h).
enum { SC_CLONE_NEWNS = 0x00020000, SC_CLONE_NEWUSER = 0x10000000, SC_CLONE_NEWNET = 0x40000000 };

#include <spawn.h>
/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34), declared only with _GNU_SOURCE:
/// the child closes every descriptor from `from` up.
int sc_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

#endif
