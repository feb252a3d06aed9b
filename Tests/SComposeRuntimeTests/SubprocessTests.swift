// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Testing

/// The host helpers' runner (`apparmor_parser`, credential helpers): input in, output back,
/// exit status, environment and `PATH` only when asked.
@Suite struct SubprocessTests {
    @Test func inputOutputAndStatus() throws {
        let both = try Subprocess.run(["/bin/sh", "-c", "cat; echo err >&2; exit 3"], input: Array("hi\n".utf8))
        #expect(both.status == 3)
        #expect(String(decoding: both.output, as: UTF8.self) == "hi\nerr\n")
        let out = try Subprocess.run(["/bin/sh", "-c", "cat; echo err >&2"], input: Array("hi\n".utf8), mergeErrors: false)
        #expect(String(decoding: out.output, as: UTF8.self) == "hi\n")
        let killed = try Subprocess.run(["/bin/sh", "-c", "kill -9 $$"])
        #expect(killed.status == 137)
    }

    @Test func environmentAndPathOnlyWhenAsked() throws {
        let empty = try Subprocess.run(["/bin/sh", "-c", "echo \"[$HOME]\""])
        #expect(String(decoding: empty.output, as: UTF8.self) == "[]\n")
        let inherited = try Subprocess.run(["sh", "-c", "echo \"[$HOME]\""], searchPath: true, inheritEnvironment: true)
        #expect(String(decoding: inherited.output, as: UTF8.self) != "[]\n")
        #expect(throws: Subprocess.Failure.self) { try Subprocess.run(["sh", "-c", "true"]) }
        let limited = try Subprocess.run(["/bin/sh", "-c", "yes | head -c 100000"], limit: 10)
        #expect(limited.output.count == 10)
    }
}
