// SPDX-License-Identifier: Apache-2.0

/// How containers are named and found without a compose file, with no I/O: Docker's two-word
/// random names, and a reference (name, ID or unique ID prefix) resolved to one container.
public enum ContainerNames {
    // Words of our own, in Docker's `adjective_surname` shape: surnames of scientists and
    // engineers.
    static let adjectives = [
        "agile", "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "curious", "daring", "deft",
        "eager", "earnest", "fair", "fearless", "fond", "gentle", "glad", "golden", "happy", "hardy", "honest", "humble",
        "jolly", "keen", "kind", "lively", "loyal", "lucid", "merry", "mellow", "modest", "nimble", "noble", "patient",
        "placid", "plucky", "proud", "quick", "quiet", "rapid", "serene", "sharp", "shy", "silent", "steady", "stoic",
        "sunny", "swift", "tender", "tidy", "upbeat", "vivid", "warm", "wise", "witty", "zen", "zesty", "spry",
    ]
    static let surnames = [
        "agnesi", "babbage", "banach", "bohr", "boole", "cantor", "cauchy", "curie", "darwin", "dijkstra", "euclid",
        "euler", "faraday", "fermat", "fermi", "feynman", "fourier", "galois", "gauss", "germain", "goedel", "hamming",
        "hilbert", "hopper", "huygens", "jacobi", "kepler", "knuth", "lagrange", "lamarr", "laplace", "leibniz",
        "lovelace", "maxwell", "meitner", "mendel", "minsky", "napier", "newton", "noether", "pascal", "pasteur",
        "planck", "poincare", "ramanujan", "riemann", "ritchie", "shannon", "somerville", "tesla", "thompson", "turing",
        "volta", "wiles", "wozniak", "yalow", "zuse", "hypatia", "kovalevskaya", "carson",
    ]

    /// A random `adjective_surname` none of `taken` has; after many tries a digit is added,
    /// as Docker does when its names run short.
    public static func random(taken: Set<String>, next: (Int) -> Int = { Int.random(in: 0..<$0) }) -> String {
        for attempt in 0..<64 {
            var name = adjectives[next(adjectives.count)] + "_" + surnames[next(surnames.count)]
            if attempt >= 16 { name += String(next(10)) }
            if !taken.contains(name) { return name }
        }
        var n = 1
        while taken.contains("container_\(n)") { n += 1 }
        return "container_\(n)"
    }

    /// The one container `reference` names, as Docker finds it: a full ID, then a name (with
    /// or without its leading `/`), then a unique ID prefix.
    public static func resolve(_ reference: String, in all: [ContainerStatus]) throws -> ContainerStatus {
        let name = reference.hasPrefix("/") ? String(reference.dropFirst()) : reference
        guard !name.isEmpty else { throw EngineError(.noSuchContainer(reference)) }
        if let c = all.first(where: { $0.record.id == name }) { return c }
        if let c = all.first(where: { $0.record.name == name }) { return c }
        let matches = all.filter { $0.record.id.hasPrefix(name.lowercased()) }
        if matches.count > 1 { throw EngineError(.ambiguousContainer(name)) }
        guard let c = matches.first, name.allSatisfy(\.isHexDigit) else { throw EngineError(.noSuchContainer(reference)) }
        return c
    }
}
