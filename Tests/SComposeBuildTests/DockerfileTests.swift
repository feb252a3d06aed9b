// SPDX-License-Identifier: Apache-2.0
@testable import SComposeBuild
import Testing

/// The Dockerfile parser, substitution and `.dockerignore`, as Docker reads them.
@Suite struct DockerfileTests {
    @Test func directivesContinuationsAndForms() throws {
        let file = try Dockerfile.parse(
            """
            # syntax=docker/dockerfile:1
            # escape=`
            FROM debian:bookworm AS base
            # a comment
            RUN apt-get update && `
            # a comment inside the continuation

                apt-get install -y curl
            CMD ["python3", "-m", "http.server"]
            ENTRYPOINT [not json
            COPY --chown=app:app --link src/ /app/
            """)
        #expect(file.syntax == "docker/dockerfile:1")
        #expect(file.escape == "`")
        #expect(file.instructions.map(\.keyword) == ["FROM", "RUN", "CMD", "ENTRYPOINT", "COPY"])
        #expect(file.instructions[1].arguments == .shell("apt-get update &&     apt-get install -y curl"))
        #expect(file.instructions[1].line == 5)
        #expect(file.instructions[2].arguments == .exec(["python3", "-m", "http.server"]))
        #expect(file.instructions[3].arguments == .shell("[not json"))
        #expect(file.instructions[4].flags == ["chown": "app:app", "link": "true"])
        #expect(file.instructions[4].arguments == .shell("src/ /app/"))
    }

    @Test func heredocs() throws {
        let file = try Dockerfile.parse(
            """
            FROM busybox
            RUN <<EOF
            echo $HOME
            EOF
            COPY <<-'ONE' /a <<TWO /b
            \tliteral $x
            \tONE
            second
            TWO
            RUN echo done
            """)
        #expect(file.instructions.count == 4)
        #expect(file.instructions[1].heredocs == [Heredoc(name: "EOF", body: "echo $HOME\n", expand: true, chomp: false)])
        #expect(
            file.instructions[2].heredocs == [
                Heredoc(name: "ONE", body: "literal $x\n", expand: false, chomp: true),
                Heredoc(name: "TWO", body: "second\n", expand: true, chomp: false),
            ])
        #expect(file.instructions[3].line == 10)
        #expect(BuildRun.script("<<EOF", file.instructions[1].heredocs) == "echo $HOME\n")
        #expect(BuildRun.script("cat <<EOF > /x", file.instructions[1].heredocs) == "cat <<EOF > /x\necho $HOME\nEOF")
    }

    @Test func errorsNameTheLine() {
        #expect(throws: DockerfileError(file: "Dockerfile", line: 3, message: "unknown instruction: RUNN")) {
            try Dockerfile.parse("FROM busybox\n\nRUNN echo\n")
        }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("FROM busybox\nWORKDIR\n") }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("ARG A=1\n") }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("FROM busybox\nSHELL /bin/bash -c\n") }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("# escape=x\nFROM busybox\n") }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("FROM busybox\nRUN <<EOF\necho\n") }
    }

    @Test func keyValues() throws {
        let pairs = try Dockerfile.keyValuePairs(#"A=1 B="two words" C=three\ four"#, escape: "\\", legacyAllowed: true)
        #expect(pairs.map(\.key) == ["A", "B", "C"])
        let values = try pairs.map { try WordExpander(escape: "\\") { _ in nil }.expand($0.value) }
        #expect(values == ["1", "two words", "three four"])
        #expect(try Dockerfile.keyValuePairs("PATH /usr/bin:/bin  extra", escape: "\\", legacyAllowed: true) == [.init(key: "PATH", value: "/usr/bin:/bin  extra")])
        #expect(throws: DockerfileError.self) { try Dockerfile.keyValuePairs("name value", escape: "\\", legacyAllowed: false) }
    }

    @Test func lineEndingsHereStringsAndFlagEnd() throws {
        let crlf = try Dockerfile.parse("\u{FEFF}FROM busybox\r\nRUN echo a \\\r\n  b\r\n#  escape = `\r\n")
        #expect(crlf.instructions.map(\.keyword) == ["FROM", "RUN"])
        #expect(crlf.instructions[1].arguments == .shell("echo a   b"))
        let bash = try Dockerfile.parse("FROM busybox\nRUN cat <<<\"hello\"\nRUN -- --x\n")
        #expect(bash.instructions[1].heredocs.isEmpty)
        #expect(bash.instructions[2].arguments == .shell("--x") && bash.instructions[2].flags.isEmpty)
        #expect(DockerIgnore("a.txt\r\nb/\r\n").excludes("b/c"))
        #expect(DockerIgnore.matchElement("[!a]", "!") && !DockerIgnore.matchElement("[!a]", "b"))
    }

    @Test func substitution() throws {
        let vars = ["SET": "value", "EMPTY": ""]
        let e = WordExpander(escape: "\\") { vars[$0] }
        #expect(try e.expand("$SET/${SET}x") == "value/valuex")
        #expect(try e.expand("${UNSET:-default} ${EMPTY:-default} ${EMPTY-default} ${UNSET-default}") == "default default  default")
        #expect(try e.expand("${SET:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${UNSET+alt}") == "alt  alt ")
        #expect(try e.expand("${UNSET:-${SET}-nested}") == "value-nested")
        #expect(try e.expand(#"\$SET '$SET' "$SET""#) == "$SET $SET value")
        #expect(throws: DockerfileError.self) { try e.expand("${UNSET:?must be set}") }
        #expect(try e.expandWords(#"a "b c" $SET ${UNSET}"#) == ["a", "b c", "value"])
    }

    @Test func dockerignore() throws {
        let ignore = DockerIgnore(
            """
            # comment
            node_modules
            /build/
            *.md
            !README.md
            **/*.log
            secret?.txt
            docs
            !docs/keep.txt
            */temp*
            """)
        #expect(ignore.excludes("node_modules"))
        #expect(ignore.excludes("node_modules/pkg/index.js"))
        #expect(ignore.excludes("build/out.o"))
        #expect(ignore.excludes("CHANGES.md"))
        #expect(!ignore.excludes("README.md"))
        #expect(ignore.excludes("a/b/c.log") && ignore.excludes("top.log"))
        #expect(ignore.excludes("secret1.txt") && !ignore.excludes("secret12.txt"))
        #expect(ignore.excludes("docs/other.txt") && !ignore.excludes("docs/keep.txt"))
        #expect(!ignore.canSkipDirectory("docs"))
        #expect(ignore.canSkipDirectory("node_modules"))
        #expect(ignore.excludes("src/tempfile/x") && !ignore.excludes("src/a/tempfile"))
        #expect(!ignore.excludes("src/main.swift"))
        #expect(DockerIgnore.matchElement("[a-c]x", "bx") && !DockerIgnore.matchElement("[^a-c]x", "bx"))
        #expect(try Dockerfile.keyValuePairs("maintainer \"me\"", escape: "\\", legacyAllowed: true).map(\.key) == ["maintainer"])
    }

    @Test func durations() {
        #expect(BuildRun.parseDuration("30s") == 30_000_000_000)
        #expect(BuildRun.parseDuration("1m30s") == 90_000_000_000)
        #expect(BuildRun.parseDuration("500ms") == 500_000_000)
        #expect(BuildRun.parseDuration("abc") == nil)
    }
}
