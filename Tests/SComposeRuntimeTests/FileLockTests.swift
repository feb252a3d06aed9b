// SPDX-License-Identifier: Apache-2.0
import Foundation
import SComposeOS
import Testing

/// The `flock` that serializes commands on a project: exclusive between two opens of one
/// process as between processes, released when the value goes.
@Suite struct FileLockTests {
    @Test func twoLocksInOneProcessExcludeEachOther() throws {
        let dir = try TempDir()
        let path = dir.path + "/p.lock"
        var held: FileLock? = try FileLock.acquire(path)
        #expect(held != nil)
        #expect(try FileLock.tryAcquire(path) == nil)
        held = nil
        let again = try FileLock.tryAcquire(path)
        #expect(again != nil)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
    }

    @Test func anotherProcessWaitsForIt() throws {
        let dir = try TempDir()
        let path = dir.path + "/p.lock"
        var held: FileLock? = try FileLock.acquire(path)
        #expect(held != nil)
        let busy = try Subprocess.run(["/usr/bin/flock", "-n", path, "true"])
        #expect(busy.status == 1)
        held = nil
        let free = try Subprocess.run(["/usr/bin/flock", "-n", path, "true"])
        #expect(free.status == 0)
    }

    /// `acquire` waits for a holder in another process (here one that lets go after 0.5 s).
    @Test func acquireWaits() throws {
        let dir = try TempDir()
        let path = dir.path + "/p.lock"
        let started = try Subprocess.run([
            "/bin/sh", "-c", "/usr/bin/flock \"$0\" sleep 0.5 >/dev/null 2>&1 & sleep 0.2; echo started", path,
        ])
        #expect(String(decoding: started.output, as: UTF8.self) == "started\n")
        let before = Date()
        let lock = try FileLock.acquire(path)
        withExtendedLifetime(lock) {
            #expect(Date().timeIntervalSince(before) > 0.1)
        }
    }

    @Test func aDirectoryThatIsMissingIsAnError() {
        #expect(throws: FileError.self) { try FileLock.acquire("/nonexistent-scompose-dir/p.lock") }
    }
}
