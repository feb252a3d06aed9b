// SPDX-License-Identifier: Apache-2.0
import SComposeOS
import Testing

/// Rootless unpacking and overlay mounts change in a user namespace; only there.
struct UserNamespaceTests {
    @Test func theHostsMapIsTheIdentity() {
        #expect(UserNamespace.isInitial(uidMap: "         0          0 4294967295\n"))
        #expect(!UserNamespace.isInitial(uidMap: "         0       1000          1\n         1     100000      65536\n"))
        #expect(!UserNamespace.isInitial(uidMap: ""))
        #expect(UserNamespace.overlayXattrPrefix(nested: false) == "trusted.overlay.")
        #expect(UserNamespace.overlayXattrPrefix(nested: true) == "user.overlay.")
    }
}
