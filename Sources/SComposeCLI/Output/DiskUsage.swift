// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Bytes used by a directory tree (without following symlinks).
enum DiskUsage {
    static func bytes(_ path: String) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        if (st.st_mode & S_IFMT) != S_IFDIR { return Int64(st.st_blocks) * 512 }
        return Files.list(path).reduce(Int64(st.st_blocks) * 512) { $0 + bytes(path + "/" + $1) }
    }
}
