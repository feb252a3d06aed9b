// SPDX-License-Identifier: Apache-2.0
import SComposeShim

#if canImport(Glibc)
import Glibc
#endif

exit(Shim.main(Array(CommandLine.arguments.dropFirst())))
