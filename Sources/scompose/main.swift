// SPDX-License-Identifier: Apache-2.0
import SComposeCLI

#if canImport(Glibc)
import Glibc
#endif

exit(SCompose.run(arguments: Array(CommandLine.arguments.dropFirst())))
