// swift-tools-version:6.1
// MedGemma Vision Lab: one `medlab` executable over layered modules (see docs/architecture.md).
import PackageDescription

/// llama.cpp is built by scripts/setup.sh into a cache; `.llama` at the package root links to it.
let llamaPrefix = Context.packageDirectory + "/.llama"
let llamaLinker: [LinkerSetting] = [
    .unsafeFlags([
        "-L", llamaPrefix + "/lib",
        // Run from the build folder against the cache, or from a bundle `bin/medlab` + `lib/`.
        "-Xlinker", "-rpath", "-Xlinker", llamaPrefix + "/lib",
        "-Xlinker", "-rpath", "-Xlinker", "$ORIGIN/../lib",
        "-Xlinker", "-rpath", "-Xlinker", "$ORIGIN/lib",
    ])
]

let package = Package(
    name: "MedGemmaVisionLab",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "medlab", targets: ["medlab"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CLlama", path: "Sources/CLlama"),
        .target(
            name: "MedInference",
            dependencies: ["CLlama"],
            linkerSettings: llamaLinker
        ),
        .executableTarget(
            name: "medlab",
            dependencies: [
                "MedInference",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: llamaLinker
        ),
        .testTarget(
            name: "MedInferenceTests",
            dependencies: ["MedInference"],
            linkerSettings: llamaLinker
        ),
    ],
    swiftLanguageModes: [.v6]
)
