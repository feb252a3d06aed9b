// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "CLinux.h"

dev_t sc_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }

int sc_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}

long sc_fgetxattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size); }

long sc_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}

int sc_mkostemp(char *template_, int flags) { return mkostemp(template_, flags); }
