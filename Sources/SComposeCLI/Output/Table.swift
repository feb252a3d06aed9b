// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Columns padded like Go's tabwriter as docker uses it (three spaces between columns).
enum Table {
    /// Columns padded as Go's tabwriter does (`padding` spaces after the widest cell).
    static func render(header: [String], rows: [[String]], padding: Int = 3, minWidth: Int = 0) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in all {
            var line = ""
            for (i, cell) in row.enumerated() {
                if i == row.count - 1 {
                    line += cell
                } else {
                    line += cell + String(repeating: " ", count: max(widths[i] + padding, minWidth) - cell.count)
                }
            }
            out += line + "\n"
        }
        return out
    }
}
