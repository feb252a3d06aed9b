// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeLoader

#if canImport(Glibc)
import Glibc
#endif

/// Words of a command line as a POSIX shell splits them (quotes and backslashes; no expansion),
/// as Compose reads `run --entrypoint`.
enum ShellWords {
    static func split(_ text: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for ch in text {
            if escaped {
                current.append(ch)
                escaped = false
                continue
            }
            if ch == "\\" && quote != "'" {
                escaped = true
                inWord = true
                continue
            }
            if let q = quote {
                if ch == q { quote = nil } else { current.append(ch) }
                continue
            }
            if ch == "'" || ch == "\"" {
                quote = ch
                inWord = true
            } else if ch == " " || ch == "\t" || ch == "\n" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(ch)
                inWord = true
            }
        }
        if quote != nil || escaped { throw CLIError("invalid command line string: \(text)") }
        if inWord { words.append(current) }
        return words
    }
}
