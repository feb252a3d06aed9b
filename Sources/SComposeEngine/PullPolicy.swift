// SPDX-License-Identifier: Apache-2.0

/// When a service's image is pulled: `pull_policy`, or `--pull` over it.
public enum PullPolicy: Sendable, Equatable {
    /// Every time.
    case always
    /// Never: a missing image is an error.
    case never
    /// When the image is not in the store (Compose's default; also `if_not_present`).
    case missing
    /// The image is built, not pulled.
    case build
    /// When missing, or last pulled at least this many seconds ago (`daily`, `weekly`,
    /// `every_<duration>`).
    case periodic(seconds: Int64)

    /// Reads a policy as the files and flags write it; nil (unset) and anything else is
    /// `missing`, as Compose treats them.
    public init(_ text: String?) {
        switch text {
        case "always"?: self = .always
        case "never"?: self = .never
        case "build"?: self = .build
        case let text?:
            self = PullDates.period(text).map { .periodic(seconds: $0) } ?? .missing
        case nil: self = .missing
        }
    }

    /// Whether to pull an image that is `present` or not, last pulled `age` seconds ago (nil
    /// when unknown).
    public func wantsPull(present: Bool, age: Int64?) -> Bool {
        switch self {
        case .always: return true
        case .never, .build: return false
        case .missing: return !present
        case .periodic(let period): return !present || (age.map { $0 >= period } ?? true)
        }
    }
}
