// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Docker's human-readable sizes and durations.
enum Human {
    /// go-units' HumanSizeWithPrecision(size, 3): decimal units, three significant digits.
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes)
        var i = 0
        while value >= 1000 && i < units.count - 1 {
            value /= 1000
            i += 1
        }
        return significant(value, 3) + units[i]
    }

    /// `%.Ng` without trailing zeros.
    static func significant(_ v: Double, _ digits: Int) -> String {
        if v == 0 { return "0" }
        var magnitude = 0
        var x = abs(v)
        while x >= 10 {
            x /= 10
            magnitude += 1
        }
        while x < 1 {
            x *= 10
            magnitude -= 1
        }
        let decimals = max(0, digits - 1 - magnitude)
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (v * scale).rounded() / scale
        var text = decimals == 0 ? String(Int64(rounded)) : String(rounded)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    /// go-units' HumanDuration plus " ago".
    static func since(_ seconds: Int) -> String {
        let s = max(0, seconds)
        let text: String
        if s < 1 {
            text = "Less than a second"
        } else if s == 1 {
            text = "1 second"
        } else if s < 60 {
            text = "\(s) seconds"
        } else if s / 60 == 1 {
            text = "About a minute"
        } else if s / 60 < 60 {
            text = "\(s / 60) minutes"
        } else {
            let hours = Int((Double(s) / 3600 + 0.5).rounded(.down))
            if hours == 1 {
                text = "About an hour"
            } else if hours < 48 {
                text = "\(hours) hours"
            } else if hours < 24 * 7 * 2 {
                text = "\(hours / 24) days"
            } else if hours < 24 * 30 * 2 {
                text = "\(hours / 24 / 7) weeks"
            } else if hours < 24 * 365 * 2 {
                text = "\(hours / 24 / 30) months"
            } else {
                text = "\(s / 3600 / 24 / 365) years"
            }
        }
        return text + " ago"
    }
}
