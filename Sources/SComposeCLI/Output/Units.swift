// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Sizes and shares written as Docker's go-units does.
enum Units {
    /// `12.34%`.
    static func percent(_ v: Double) -> String {
        let hundredths = Int((v * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)%"
    }

    /// Powers of 1024, four significant digits: `1.5MiB`.
    static func binary(_ bytes: Int64) -> String {
        scaled(Double(bytes), base: 1024, units: ["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
    }

    /// Powers of 1000, four significant digits: `1.2kB`.
    static func decimal(_ bytes: Int64) -> String {
        scaled(Double(bytes), base: 1000, units: ["B", "kB", "MB", "GB", "TB", "PB"])
    }

    static func scaled(_ value: Double, base: Double, units: [String]) -> String {
        var v = value
        var i = 0
        while v >= base && i < units.count - 1 {
            v /= base
            i += 1
        }
        return significant(v, 4) + units[i]
    }

    /// `%.Ng` for values below 10000: N significant digits, no trailing zeros.
    static func significant(_ v: Double, _ digits: Int) -> String {
        guard v > 0 else { return "0" }
        var intDigits = 1
        var t = v
        while t >= 10 {
            t /= 10
            intDigits += 1
        }
        let decimals = max(0, digits - intDigits)
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let n = Int64((v * scale).rounded())
        var text = String(n)
        if decimals > 0 {
            if text.count <= decimals { text = String(repeating: "0", count: decimals - text.count + 1) + text }
            text.insert(".", at: text.index(text.endIndex, offsetBy: -decimals))
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }
}
