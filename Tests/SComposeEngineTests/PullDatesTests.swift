// SPDX-License-Identifier: Apache-2.0
import Foundation
@testable import SComposeEngine
import Testing

/// `pull_policy: daily|weekly|every_<duration>`: the periods and the recorded pull times.
@Suite struct PullDatesTests {
    @Test func periods() {
        #expect(PullDates.period("daily") == 86_400)
        #expect(PullDates.period("weekly") == 604_800)
        #expect(PullDates.period("every_12h") == 43_200)
        let expected: Int64 = 604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5
        #expect(PullDates.period("every_1w2d3h4m5s") == expected)
        #expect(PullDates.period("every_") == nil)
        #expect(PullDates.period("every_5") == nil)
        #expect(PullDates.period("every_h") == nil)
        #expect(PullDates.period("missing") == nil)
    }

    @Test func recordedAges() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pulldates-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let dates = PullDates(root: root)
        #expect(dates.age("postgres:16") == nil)
        dates.record("postgres:16")
        let age = try #require(dates.age("postgres:16"))
        #expect(age >= 0 && age < 5)
        #expect(dates.age("redis:7") == nil)
    }
}
