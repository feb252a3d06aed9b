// SPDX-License-Identifier: Apache-2.0

/// The two sides of `cp`: exactly one of them `NAME:PATH` (a service, or a container).
enum CopyEndpoints {
    /// `(from, to)`, the side in a container as (name, path), the other nil; `neither` is the
    /// error when no side names a container.
    static func parse(source: String, destination: String, neither: String) throws -> (from: (String, String)?, to: (String, String)?) {
        if source == "-" || destination == "-" {
            throw CLIError("copying a tar stream from or to standard input/output (\"-\") is not supported; give a path")
        }
        func split(_ arg: String) -> (String, String)? {
            // NAME:PATH, but not a local path with a colon after a slash (`./a:b`).
            guard let colon = arg.firstIndex(of: ":"), !arg[..<colon].contains("/"), colon != arg.startIndex else { return nil }
            return (String(arg[..<colon]), String(arg[arg.index(after: colon)...]))
        }
        let from = split(source)
        let to = split(destination)
        guard (from == nil) != (to == nil) else {
            throw CLIError(from == nil ? neither : "copying between containers is not supported")
        }
        return (from, to)
    }
}
