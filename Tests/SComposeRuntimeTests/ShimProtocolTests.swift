// SPDX-License-Identifier: Apache-2.0
import SComposeRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The messages between the shim and its client, as the bytes on the wire: both sides use
/// these codecs, so a change of format shows here first.
struct ShimProtocolTests {
    @Test func syncMessagesAreJSONLines() {
        #expect(String(decoding: ShimSyncMessage.listening.line, as: UTF8.self) == "{\"listening\":true}\n")
        #expect(String(decoding: ShimSyncMessage.started(pid: 4242).line, as: UTF8.self) == "{\"pid\":4242}\n")
        #expect(
            String(decoding: ShimSyncMessage.failed(message: "exec \"sh\": no such file", errno: 2).line, as: UTF8.self)
                == "{\"error\":\"exec \\\"sh\\\": no such file\",\"errno\":2}\n")
        #expect(String(decoding: ShimSyncMessage.failed(message: "cgroup: x", errno: nil).line, as: UTF8.self) == "{\"error\":\"cgroup: x\"}\n")
    }

    @Test func syncMessagesRoundTrip() {
        let messages: [ShimSyncMessage] = [
            .listening, .started(pid: 1), .started(pid: Int32.max), .failed(message: "a\nb\t\"c\" é", errno: 13),
            .failed(message: "", errno: nil),
        ]
        for m in messages {
            #expect(ShimSyncMessage(line: Array(m.line.dropLast())) == m)
        }
        #expect(ShimSyncMessage(line: Array("{}".utf8)) == nil)
        #expect(ShimSyncMessage(line: Array("garbage".utf8)) == nil)
        #expect(ShimSyncMessage(line: []) == nil)
    }

    @Test func requestsAreTextLines() throws {
        let cases: [(ShimRequest, String)] = [
            (.stop(signal: 15, seconds: 10), "stop 15 10\n"), (.kill(signal: 9), "kill 9\n"),
            (.resize(rows: 24, columns: 80), "resize 24 80\n"), (.attach(stdin: false), "attach\n"),
            (.attach(stdin: true), "attach stdin\n"),
        ]
        for (request, line) in cases {
            #expect(request.line == line)
            #expect(try ShimRequest(line: line) == request)
            #expect(try ShimRequest(line: String(line.dropLast())) == request)
        }
    }

    @Test func malformedRequestsAreTold() {
        #expect(throws: ShimRequest.ParseError.bad) { try ShimRequest(line: "stop TERM 10\n") }
        #expect(throws: ShimRequest.ParseError.bad) { try ShimRequest(line: "kill x\n") }
        #expect(throws: ShimRequest.ParseError.bad) { try ShimRequest(line: "resize 70000 80\n") }
        #expect(throws: ShimRequest.ParseError.unknown) { try ShimRequest(line: "stop 15\n") }
        #expect(throws: ShimRequest.ParseError.unknown) { try ShimRequest(line: "attach stdout\n") }
        #expect(throws: ShimRequest.ParseError.unknown) { try ShimRequest(line: "exec sh\n") }
        #expect(throws: ShimRequest.ParseError.unknown) { try ShimRequest(line: "") }
    }

    @Test func repliesAreTextLines() {
        #expect(ShimReply.ok.line == "ok\n")
        #expect(ShimReply.noTTY.line == "error no tty\n")
        #expect(ShimReply.badRequest.line == "error bad request\n")
        #expect(ShimReply(line: "ok") == .ok)
        #expect(ShimReply(line: "error unknown request") == .unknownRequest)
        #expect(ShimReply(line: "what") == .error("what"))
    }

    @Test func attachFramesAreDockersMultiplexing() {
        #expect(AttachFrame.stdout([0x68, 0x69]).bytes == [1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69])
        #expect(AttachFrame.stderr([]).bytes == [2, 0, 0, 0, 0, 0, 0, 0])
        #expect(AttachFrame.exit(137).bytes == [3, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 137])
        #expect(AttachFrame.exit(-1).bytes == [3, 0, 0, 0, 0, 0, 0, 4, 255, 255, 255, 255])
    }

    @Test func attachFramesAreCutWhole() {
        let stream = AttachFrame.stdout(ArraySlice(Array("hello".utf8))).bytes + AttachFrame.stderr(ArraySlice(Array("oops".utf8))).bytes
            + AttachFrame.exit(3).bytes
        // Fed a byte at a time, the frames come out whole and in order.
        var buffer: [UInt8] = []
        var frames: [AttachFrame] = []
        for byte in stream {
            buffer.append(byte)
            frames += AttachFrame.take(from: &buffer)
        }
        #expect(buffer.isEmpty)
        #expect(frames == [.stdout(ArraySlice(Array("hello".utf8))), .stderr(ArraySlice(Array("oops".utf8))), .exit(3)])
        // An exit frame of the wrong size, or an unknown stream, is output.
        var odd: [UInt8] = [3, 0, 0, 0, 0, 0, 0, 1, 0x41, 9, 0, 0, 0, 0, 0, 0, 1, 0x42]
        #expect(AttachFrame.take(from: &odd) == [.stdout([0x41]), .stdout([0x42])])
    }

    @Test func aClientWithoutAShimGetsNoAnswer() throws {
        let dir = try Self.temporaryDirectory()
        defer { rmdir(dir) }
        let client = ShimClient(files: ContainerFiles(dir: dir))
        #expect(client.send(ShimRequest.kill(signal: 0)) == nil)
        #expect(client.attach(stdin: false) == nil)
        #expect(!client.stop(signal: 15, seconds: 1))
    }

    @Test func aShimThatCannotRunIsAnError() throws {
        let dir = try Self.temporaryDirectory()
        defer { rmdir(dir) }
        #expect(throws: ShimError.spawn(path: "/nonexistent/scompose-shim", errno: ENOENT)) {
            try ShimClient(files: ContainerFiles(dir: dir)).start(shim: "/nonexistent/scompose-shim")
        }
        // A program that exits without a word on the sync pipe.
        #expect(throws: ShimError.startFailed(message: "the shim exited without starting the container", errno: nil)) {
            try ShimClient(files: ContainerFiles(dir: dir)).start(shim: "/bin/true")
        }
    }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/shimclient-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkdtemp($0) != nil } ?? false }
        try #require(made)
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
