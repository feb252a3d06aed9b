// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import SComposeEngine

/// `pull_policy` and `--pull`, read once into a value that decides.
struct PullPolicyTests {
    @Test func readsComposesWords() {
        #expect(PullPolicy("always") == .always)
        #expect(PullPolicy("never") == .never)
        #expect(PullPolicy("build") == .build)
        #expect(PullPolicy("missing") == .missing)
        #expect(PullPolicy(nil) == .missing)
        #expect(PullPolicy("daily") == .periodic(seconds: 86_400))
        #expect(PullPolicy("weekly") == .periodic(seconds: 604_800))
        #expect(PullPolicy("every_1h30m") == .periodic(seconds: 5_400))
    }

    @Test func decides() {
        #expect(PullPolicy.always.wantsPull(present: true, age: 0))
        #expect(!PullPolicy.never.wantsPull(present: false, age: nil))
        #expect(!PullPolicy.build.wantsPull(present: false, age: nil))
        #expect(PullPolicy.missing.wantsPull(present: false, age: nil))
        #expect(!PullPolicy.missing.wantsPull(present: true, age: 999_999))
        let daily = PullPolicy.periodic(seconds: 86_400)
        #expect(daily.wantsPull(present: false, age: nil))
        #expect(daily.wantsPull(present: true, age: nil))
        #expect(!daily.wantsPull(present: true, age: 3_600))
        #expect(daily.wantsPull(present: true, age: 86_400))
    }
}
