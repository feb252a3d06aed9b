// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import SComposeEngine

/// `network_mode`, `ipc` and `pid`, read once.
struct NamespaceModeTests {
    @Test func readsComposesWords() {
        #expect(NamespaceMode(nil) == .own)
        #expect(NamespaceMode("bridge") == .own)
        #expect(NamespaceMode("shareable") == .own)
        #expect(NamespaceMode("host") == .host)
        #expect(NamespaceMode("none") == .none)
        #expect(NamespaceMode("service:db") == .service("db"))
        #expect(NamespaceMode("service:db").service == "db")
        #expect(NamespaceMode("container:abc") == .container("abc"))
        #expect(NamespaceMode("container:abc").service == nil)
        #expect(NamespaceMode("macvlan") == .other("macvlan"))
    }
}
