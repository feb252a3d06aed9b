// SPDX-License-Identifier: Apache-2.0
import SComposeOCI
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// When `up` last pulled each image, for `pull_policy: daily|weekly|every_<duration>`: one
/// small file per image name under `$SCOMPOSE_ROOT/pulls`, holding the time in seconds.
struct PullDates {
    let root: String

    var dir: String { root + "/pulls" }

    func file(_ image: String) -> String { dir + "/" + Digest(of: Array(image.utf8)).hex }

    /// Seconds since a present `image` was last pulled, as far as `policy` cares: read only for
    /// the periodic policies (every other one decides without it, and `up` runs it per image).
    func age(_ image: String, present: Bool, policy: PullPolicy) -> Int64? {
        guard present, case .periodic = policy else { return nil }
        return age(image)
    }

    /// Seconds since `image` was last pulled by `up`; nil if never.
    func age(_ image: String) -> Int64? {
        guard let bytes = try? Files.read(file(image)), let then = Int64(String(decoding: bytes, as: UTF8.self)) else {
            return nil
        }
        return Clock.nowNanoseconds() / 1_000_000_000 - then
    }

    func record(_ image: String) {
        try? Files.makeDirectories(dir)
        try? Files.writeAtomically(file(image), Array(String(Clock.nowNanoseconds() / 1_000_000_000).utf8))
    }

    /// The period of a policy in seconds: `daily`, `weekly`, `every_1w2d3h4m5s`; nil for others.
    static func period(_ policy: String) -> Int64? {
        switch policy {
        case "daily": return 86_400
        case "weekly": return 604_800
        default:
            guard policy.hasPrefix("every_") else { return nil }
            var total: Int64 = 0
            var number: Int64 = 0
            var digits = false
            var units = 0
            for c in policy.dropFirst(6) {
                if let d = c.wholeNumberValue {
                    number = number * 10 + Int64(d)
                    digits = true
                    continue
                }
                guard digits else { return nil }
                switch c {
                case "w": total += number * 604_800
                case "d": total += number * 86_400
                case "h": total += number * 3_600
                case "m": total += number * 60
                case "s": total += number
                default: return nil
                }
                number = 0
                digits = false
                units += 1
            }
            return digits || units == 0 ? nil : total
        }
    }
}
