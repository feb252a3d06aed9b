// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "scompose",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "scompose", targets: ["scompose"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "SComposeYAML", dependencies: ["CYAML"]),
        .target(name: "SComposeSpec"),
        .target(name: "SComposeLoader", dependencies: ["SComposeYAML", "SComposeSpec"]),
        .target(
            name: "SComposeCLI",
            dependencies: [
                "SComposeLoader", "SComposeSpec", "SComposeYAML",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "scompose", dependencies: ["SComposeCLI"]),
        .testTarget(name: "SComposeYAMLTests", dependencies: ["SComposeYAML"]),
        .testTarget(name: "SComposeLoaderTests", dependencies: ["SComposeLoader", "SComposeSpec", "SComposeYAML"]),
        .testTarget(name: "SComposeCLITests", dependencies: ["SComposeCLI", "SComposeLoader"]),
    ],
    swiftLanguageModes: [.v6]
)
