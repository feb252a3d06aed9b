// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "scompose",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "scompose", targets: ["scompose"]),
        .executable(name: "scompose-shim", targets: ["scompose-shim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // Headers only: the functions come from CDynamic, which loads the library on first use.
        .systemLibrary(name: "CArchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        .systemLibrary(name: "CNftables", providers: [.apt(["libnftables-dev"])]),
        .target(name: "CDynamic"),
        .target(name: "CLinux"),
        .target(name: "SComposeNetlink"),
        .target(name: "SComposeNetwork", dependencies: ["SComposeNetlink", "SComposeOS", "CNftables", "CDynamic"]),
        .target(name: "CSpawn"),
        .target(name: "SComposeYAML", dependencies: ["CYAML"]),
        .target(name: "SComposeOS", dependencies: ["CLinux"]),
        .target(
            name: "SComposeOCI",
            dependencies: ["CArchive", "CDynamic", "CLinux", "SComposeOS", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "SComposeSpec"),
        .target(name: "SComposeLoader", dependencies: ["SComposeYAML", "SComposeSpec", "SComposeOS"]),
        .target(name: "SComposeBridge", dependencies: ["SComposeSpec", "SComposeLoader", "SComposeOS", "SComposeYAML"]),
        .target(name: "SComposeRuntime", dependencies: ["CSpawn", "CSeccomp", "CLinux", "SComposeOS"]),
        .target(name: "SComposeShim", dependencies: ["SComposeRuntime", "SComposeNetwork", "SComposeNetlink", "CSpawn", "CLinux"]),
        .target(
            name: "SComposeBuild",
            dependencies: ["SComposeOCI", "SComposeRuntime", "SComposeOS", "CLinux", "CSpawn", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "SComposeEngine",
            dependencies: [
                "SComposeBuild", "SComposeLoader", "SComposeSpec", "SComposeOCI", "SComposeRuntime", "SComposeOS", "SComposeNetwork",
            ]
        ),
        .executableTarget(
            name: "scompose-shim", dependencies: ["SComposeShim"],
            // One shim runs per container: linked at a fixed address, the Swift metadata needs no
            // relocation at start, so those pages stay clean and shared among all shims.
            linkerSettings: [.unsafeFlags(["-Xclang-linker", "-no-pie"], .when(configuration: .release))]
        ),
        .target(
            name: "SComposeCLI",
            dependencies: [
                "SComposeLoader", "SComposeSpec", "SComposeYAML", "SComposeOCI", "SComposeRuntime", "SComposeEngine", "SComposeBridge",
                "SComposeOS", "SComposeNetwork", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "scompose", dependencies: ["SComposeCLI"],
            // As the shim: without position independence the Swift metadata needs no relocation
            // at start (84,000 fewer relocations). Release only: against the shared Swift
            // runtime of a debug build the loader warns about protected symbols.
            linkerSettings: [.unsafeFlags(["-Xclang-linker", "-no-pie"], .when(configuration: .release))]
        ),
        .testTarget(name: "SComposeYAMLTests", dependencies: ["SComposeYAML"]),
        .testTarget(name: "SComposeLoaderTests", dependencies: ["SComposeLoader", "SComposeOS", "SComposeSpec", "SComposeYAML"]),
        .testTarget(
            name: "SComposeCLITests", dependencies: ["SComposeCLI", "SComposeLoader"],
            exclude: ["corpus-exclusions.txt"]),
        .testTarget(name: "SComposeOCITests", dependencies: ["SComposeOCI", "CLinux"]),
        .testTarget(name: "SComposeRuntimeTests", dependencies: ["SComposeRuntime", "SComposeOCI"]),
        .testTarget(name: "SComposeNetworkTests", dependencies: ["SComposeNetlink", "SComposeNetwork"]),
        .testTarget(name: "SComposeEngineTests", dependencies: ["SComposeEngine"]),
        .testTarget(name: "SComposeOSTests", dependencies: ["SComposeOS"]),
        .testTarget(name: "SComposeBuildTests", dependencies: ["SComposeBuild"]),
        .testTarget(
            name: "SComposeBridgeTests", dependencies: ["SComposeBridge", "SComposeLoader", "SComposeOS", "SComposeYAML"],
            exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v6]
)
