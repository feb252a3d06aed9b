// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func replacingOccurrences(_ what: String, _ with: String) -> String {
        guard let r = firstRange(of: what) else { return self }
        return String(self[..<r.lowerBound]) + with + String(self[r.upperBound...])
    }
}

extension String {
    func replacingSuffix(_ suffix: String, _ with: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + with : self
    }
}
