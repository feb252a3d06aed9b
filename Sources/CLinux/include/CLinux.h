// SPDX-License-Identifier: Apache-2.0
// Thin wrappers for what Swift cannot call directly (macros, GNU extensions).
#ifndef SCOMPOSE_CLINUX_H
#define SCOMPOSE_CLINUX_H

#include <sys/types.h>

/// makedev(3), a macro in glibc.
dev_t sc_makedev(unsigned int major, unsigned int minor);
/// fsetxattr(2).
int sc_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
/// fgetxattr(2).
long sc_fgetxattr(int fd, const char *name, void *value, size_t size);
/// lgetxattr(2).
long sc_lgetxattr(const char *path, const char *name, void *value, size_t size);
/// mkostemp(3), a GNU extension.
int sc_mkostemp(char *template_, int flags);

#endif
