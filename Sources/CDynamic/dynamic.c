// SPDX-License-Identifier: Apache-2.0
#include "CDynamic.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/// The library's handle, opened once; a missing library ends the process with a clear message
/// (the caller could not go on without it).
static void *open_library(void **slot, const char *soname, const char *package) {
    void *handle = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (handle) return handle;
    handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "scompose: cannot load %s (%s): install %s\n", soname, dlerror(), package);
        _exit(1);
    }
    __atomic_store_n(slot, handle, __ATOMIC_RELEASE);
    return handle;
}

static void *symbol(void *handle, const char *name) {
    void *f = dlsym(handle, name);
    if (!f) {
        fprintf(stderr, "scompose: a loaded library has no symbol %s\n", name);
        _exit(1);
    }
    return f;
}

static void *archive_handle;
static void *nftables_handle;

#define LIB_ARCHIVE open_library(&archive_handle, "libarchive.so.13", "libarchive13")
#define LIB_NFTABLES open_library(&nftables_handle, "libnftables.so.1", "libnftables1")

// `wrapper`, calling the library's `target` (same prototype): it resolves it once.
#define FORWARD_AS(lib, ret, wrapper, target, params, args)                                     \
    ret wrapper params {                                                                        \
        static ret(*slot) params;                                                               \
        ret(*resolved) params = __atomic_load_n(&slot, __ATOMIC_ACQUIRE);                       \
        if (!resolved) {                                                                        \
            resolved = (ret(*) params)symbol(lib, #target);                                     \
            __atomic_store_n(&slot, resolved, __ATOMIC_RELEASE);                                \
        }                                                                                       \
        return resolved args;                                                                   \
    }

#define FORWARD_VOID_AS(lib, wrapper, target, params, args)                                     \
    void wrapper params {                                                                       \
        static void(*slot) params;                                                              \
        void(*resolved) params = __atomic_load_n(&slot, __ATOMIC_ACQUIRE);                      \
        if (!resolved) {                                                                        \
            resolved = (void(*) params)symbol(lib, #target);                                    \
            __atomic_store_n(&slot, resolved, __ATOMIC_RELEASE);                                \
        }                                                                                       \
        resolved args;                                                                          \
    }

// A function of `lib` with the same name and prototype as its header's.
#define FORWARD(lib, ret, name, params, args) FORWARD_AS(lib, ret, name, name, params, args)
#define FORWARD_VOID(lib, name, params, args) FORWARD_VOID_AS(lib, name, name, params, args)

typedef struct archive_entry entry_t;
typedef struct archive archive_t;

FORWARD(LIB_ARCHIVE, time_t, archive_entry_atime, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, long, archive_entry_atime_nsec, (entry_t *e), (e))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_free, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, la_int64_t, archive_entry_gid, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, const char *, archive_entry_hardlink, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, __LA_MODE_T, archive_entry_mode, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, time_t, archive_entry_mtime, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, long, archive_entry_mtime_nsec, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, entry_t *, archive_entry_new, (void), ())
FORWARD(LIB_ARCHIVE, const char *, archive_entry_pathname, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, dev_t, archive_entry_rdevmajor, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, dev_t, archive_entry_rdevminor, (entry_t *e), (e))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_filetype, (entry_t *e, unsigned int t), (e, t))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_mtime, (entry_t *e, time_t s, long ns), (e, s, ns))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_pathname, (entry_t *e, const char *p), (e, p))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_perm, (entry_t *e, __LA_MODE_T m), (e, m))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_size, (entry_t *e, la_int64_t s), (e, s))
FORWARD(LIB_ARCHIVE, la_int64_t, archive_entry_size, (entry_t *e), (e))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_gid, (entry_t *e, la_int64_t g), (e, g))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_hardlink, (entry_t *e, const char *p), (e, p))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_mode, (entry_t *e, __LA_MODE_T m), (e, m))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_rdevmajor, (entry_t *e, dev_t d), (e, d))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_rdevminor, (entry_t *e, dev_t d), (e, d))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_symlink, (entry_t *e, const char *p), (e, p))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_set_uid, (entry_t *e, la_int64_t u), (e, u))
FORWARD_VOID(LIB_ARCHIVE, archive_entry_xattr_add_entry, (entry_t *e, const char *n, const void *v, size_t s), (e, n, v, s))
FORWARD(LIB_ARCHIVE, const char *, archive_entry_symlink, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, la_int64_t, archive_entry_uid, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, int, archive_entry_xattr_next, (entry_t *e, const char **n, const void **v, size_t *s), (e, n, v, s))
FORWARD(LIB_ARCHIVE, int, archive_entry_xattr_reset, (entry_t *e), (e))
FORWARD(LIB_ARCHIVE, const char *, archive_error_string, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, int, archive_read_data_block, (archive_t *a, const void **b, size_t *s, la_int64_t *o), (a, b, s, o))
FORWARD(LIB_ARCHIVE, int, archive_read_free, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, archive_t *, archive_read_new, (void), ())
FORWARD(LIB_ARCHIVE, int, archive_read_next_header, (archive_t *a, entry_t **e), (a, e))
FORWARD(LIB_ARCHIVE, int, archive_read_open_filename, (archive_t *a, const char *path, size_t b), (a, path, b))
FORWARD(LIB_ARCHIVE, int, archive_read_support_filter_all, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, int, archive_read_support_format_gnutar, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, int, archive_read_support_format_raw, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, int, archive_read_support_format_tar, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, int, archive_write_close, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, la_ssize_t, archive_write_data, (archive_t *a, const void *b, size_t s), (a, b, s))
FORWARD(LIB_ARCHIVE, int, archive_write_free, (archive_t *a), (a))
FORWARD(LIB_ARCHIVE, int, archive_write_header, (archive_t *a, entry_t *e), (a, e))
FORWARD(LIB_ARCHIVE, archive_t *, archive_write_new, (void), ())
FORWARD(LIB_ARCHIVE, int, archive_write_open_fd, (archive_t *a, int fd), (a, fd))
FORWARD(LIB_ARCHIVE, int, archive_write_open_filename, (archive_t *a, const char *path), (a, path))
FORWARD(LIB_ARCHIVE, int, archive_write_set_format_pax_restricted, (archive_t *a), (a))

FORWARD(LIB_NFTABLES, struct nft_ctx *, nft_ctx_new, (uint32_t flags), (flags))
FORWARD_VOID(LIB_NFTABLES, nft_ctx_free, (struct nft_ctx *c), (c))
FORWARD(LIB_NFTABLES, int, nft_ctx_buffer_output, (struct nft_ctx *c), (c))
FORWARD(LIB_NFTABLES, int, nft_ctx_buffer_error, (struct nft_ctx *c), (c))
FORWARD(LIB_NFTABLES, const char *, nft_ctx_get_error_buffer, (struct nft_ctx *c), (c))
FORWARD(LIB_NFTABLES, int, nft_run_cmd_from_buffer, (struct nft_ctx *c, const char *b), (c, b))

static void *curl_library;
#define LIB_CURL open_library(&curl_library, "libcurl.so.4", "libcurl4")

// The variadic setters and getters, called through one prototype per argument kind.
FORWARD_AS(LIB_CURL, CURLcode, sc_curl_setopt_long, curl_easy_setopt, (CURL * c, CURLoption o, long v), (c, o, v))
FORWARD_AS(LIB_CURL, CURLcode, sc_curl_setopt_pointer, curl_easy_setopt, (CURL * c, CURLoption o, const void *v), (c, o, v))
FORWARD_AS(LIB_CURL, CURLcode, sc_curl_setopt_offset, curl_easy_setopt, (CURL * c, CURLoption o, curl_off_t v), (c, o, v))
FORWARD_AS(LIB_CURL, CURLcode, sc_curl_getinfo_long, curl_easy_getinfo, (CURL * c, CURLINFO i, long *v), (c, i, v))
FORWARD_AS(LIB_CURL, CURLcode, sc_curl_easy_perform, curl_easy_perform, (CURL * c), (c))
FORWARD_AS(LIB_CURL, const char *, sc_curl_easy_strerror, curl_easy_strerror, (CURLcode code), (code))
FORWARD_VOID_AS(LIB_CURL, sc_curl_easy_cleanup, curl_easy_cleanup, (CURL * c), (c))
FORWARD_AS(LIB_CURL, struct curl_slist *, sc_curl_slist_append, curl_slist_append, (struct curl_slist * l, const char *t), (l, t))
FORWARD_VOID_AS(LIB_CURL, sc_curl_slist_free_all, curl_slist_free_all, (struct curl_slist * l), (l))
FORWARD_AS(LIB_CURL, CURLcode, sc_curl_global_init, curl_global_init, (long flags), (flags))
FORWARD_AS(LIB_CURL, CURL *, sc_curl_easy_init_raw, curl_easy_init, (void), ())

static void curl_global_setup(void) { sc_curl_global_init(CURL_GLOBAL_DEFAULT); }

/// A handle, after curl_global_init once (which is not thread-safe on its own).
CURL *sc_curl_easy_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_global_setup);
    return sc_curl_easy_init_raw();
}
