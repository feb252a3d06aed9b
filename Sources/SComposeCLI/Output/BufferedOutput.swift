// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import SComposeOS

#if canImport(Glibc)
import Glibc
#endif

/// Output gathered and written in large pieces: `logs` of many lines stays fast.
final class BufferedOutput {
    var buffer: [UInt8] = []

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count > 1 << 16 { flush() }
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        Console.write(1, bytes: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
