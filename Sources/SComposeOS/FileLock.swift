// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a file, held until this value goes away. `flock` locks belong to
/// the open file, not the process: two locks of one process on the same file exclude each
/// other as two processes' do, and the kernel drops the lock when a killed holder's file closes,
/// so no stale lock outlives a command.
public final class FileLock {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Waits until the lock on `path` (created with `mode` if missing) is ours.
    public static func acquire(_ path: String, mode: mode_t = 0o600) throws(FileError) -> FileLock {
        let fd = try openFile(path, mode: mode)
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let err = errno
                close(fd)
                throw FileError("flock \(path)", errno: err)
            }
        }
        return FileLock(fd: fd)
    }

    /// The lock on `path` if nobody holds it now, else nil (without waiting).
    public static func tryAcquire(_ path: String, mode: mode_t = 0o600) throws(FileError) -> FileLock? {
        let fd = try openFile(path, mode: mode)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            if err == EINTR { continue }
            close(fd)
            if err == EWOULDBLOCK { return nil }
            throw FileError("flock \(path)", errno: err)
        }
        return FileLock(fd: fd)
    }

    private static func openFile(_ path: String, mode: mode_t) throws(FileError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError("open \(path)", errno: errno) }
        return fd
    }
}
