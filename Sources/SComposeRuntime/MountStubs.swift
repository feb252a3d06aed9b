// SPDX-License-Identifier: Apache-2.0
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// What the runtime makes in an overlay's upper directory only to mount on: a mount target
/// (an empty file, a socket's stand-in, an empty directory) and the directories above it
/// that no lower layer has and that hold nothing else. Not the container's (or a build
/// step's) work: builds remove them from the layer, `commit` leaves them out.
public enum MountStubs {
    /// The stubs of `targets` in `upper`, as paths from the root (`/run/secrets/x`), deepest first.
    public static func find(_ targets: [String], upper: String, lowers: [String]) -> [String] {
        var stubs: [String] = []
        var known = Set<String>()
        for target in targets.sorted(by: { $0.count > $1.count }) {
            var path = target
            while path.count > 1, !known.contains(path) {
                var st = stat()
                guard lstat(upper + path, &st) == 0, !lowers.contains(where: { access($0 + path, F_OK) == 0 }) else { break }
                let kind = st.st_mode & S_IFMT
                if kind == S_IFDIR {
                    guard Files.list(upper + path).allSatisfy({ known.contains(path + "/" + $0) }) else { break }
                } else if !((kind == S_IFREG && st.st_size == 0) || kind == S_IFSOCK) {
                    break
                }
                stubs.append(path)
                known.insert(path)
                path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            }
        }
        return stubs
    }
}
