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
        "-Xlinker", "-rpath", "-Xlinker", "$ORIGIN/lib"
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
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20")
    ],
    targets: [
        .systemLibrary(name: "CLlama", path: "Sources/CLlama"),
        // llama.cpp's grammar code is C++ (the JSON-Schema converter in libllama-common, the grammar
        // in libllama): a C shim over it.
        .target(
            name: "CLlamaGrammar", path: "Sources/CLlamaGrammar",
            linkerSettings: llamaLinker + [.linkedLibrary("llama-common"), .linkedLibrary("llama"), .linkedLibrary("stdc++")]),
        // Codec shims over Debian's -dev packages, and the imaging core (depends on nothing above it).
        // Named apart from ZIPFoundation's own `CZlib` module, which would clash.
        .systemLibrary(name: "CLabZlib", path: "Sources/CLabZlib"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        // libjpeg reports errors by longjmp, which Swift cannot catch: a small C wrapper owns setjmp.
        .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .systemLibrary(name: "COpenJPEG", path: "Sources/COpenJPEG"),
        .systemLibrary(name: "CCharLS", path: "Sources/CCharLS"),
        .target(
            name: "MedImaging",
            dependencies: ["CLabZlib", "CPNG", "CJPEG", "COpenJPEG", "CCharLS"]
        ),
        .testTarget(
            name: "MedImagingTests",
            dependencies: ["MedImaging"],
            exclude: ["FuzzFindings"]  // inputs the fuzzer crashed on, read by FuzzFindingsTests
        ),
        .target(
            name: "MedInference",
            dependencies: [
                "CLlama",
                "CLlamaGrammar",
                "MedImaging",
                // RemoteEngine speaks to vLLM / llama-server / Ollama over HTTP.
                .product(name: "AsyncHTTPClient", package: "async-http-client")
            ],
            linkerSettings: llamaLinker
        ),
        // The lab record: every analysis in a local SQLite file (GRDB), shared by the server and the CLI.
        .target(
            name: "MedLabRecord",
            dependencies: [
                "MedImaging",
                "MedInference",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto")
            ],
            linkerSettings: llamaLinker
        ),
        .testTarget(
            name: "MedLabRecordTests",
            dependencies: ["MedLabRecord", "MedImaging", "MedInference", .product(name: "GRDB", package: "GRDB.swift")],
            linkerSettings: llamaLinker
        ),
        // Experiments: prompt-comparison grids and regression sets, run through any engine, kept in the record.
        .target(
            name: "MedLabExperiments",
            dependencies: ["MedImaging", "MedInference", "MedLabRecord", .product(name: "Yams", package: "Yams")],
            linkerSettings: llamaLinker
        ),
        .testTarget(
            name: "MedLabExperimentsTests",
            dependencies: ["MedLabExperiments", "MedInference"],
            linkerSettings: llamaLinker
        ),
        .target(
            name: "MedLabServer",
            dependencies: [
                "MedImaging",
                "MedInference",
                "MedLabRecord",
                "MedLabExperiments",
                // ZIPBounds inflates an uploaded entry once to see that its stream ends.
                "CLabZlib",
                // Regression sets arrive as a ZIP of the YAML and its images.
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus")
            ],
            linkerSettings: llamaLinker
        ),
        .executableTarget(
            name: "medlab",
            dependencies: [
                "MedImaging",
                "MedInference",
                "MedLabServer",
                "MedLabRecord",
                "MedLabExperiments",
                // `medlab pull` speaks the Hugging Face Hub's protocol.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ],
            linkerSettings: llamaLinker
        ),
        .testTarget(
            name: "MedLabServerTests",
            dependencies: [
                "MedLabServer",
                "MedImaging",
                "MedInference",
                "MedLabTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird")
            ],
            exclude: ["Fuzz/FuzzFindings"],  // inputs the request fuzz targets crashed on, read by ServerFuzzFindingsTests
            linkerSettings: llamaLinker
        ),
        // The test models and the engines loaded once from them, shared by the engine and server tests.
        .target(
            name: "MedLabTestSupport",
            dependencies: ["MedInference"],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "MedInferenceTests",
            dependencies: ["MedInference", "MedLabTestSupport", "CLlama"],
            linkerSettings: llamaLinker
        )
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)

// `make fuzz` sets MEDLAB_FUZZ to the toolchain's libclang_rt.fuzzer_no_main archive: that adds
// the libFuzzer harness over every parser of outside input (bench/fuzz), built with AddressSanitizer
// and coverage in its own scratch folder. Ordinary builds never see these targets.
if let fuzzer = Context.environment["MEDLAB_FUZZ"], !fuzzer.isEmpty {
    package.targets += [
        .target(name: "CLibFuzzer", path: "bench/fuzz/CLibFuzzer"),
        .executableTarget(
            name: "medlab-fuzz",
            dependencies: ["CLibFuzzer", "MedImaging", "MedInference", "MedLabExperiments", "MedLabServer"],
            path: "bench/fuzz/medlab-fuzz",
            linkerSettings: llamaLinker + [.unsafeFlags([fuzzer, "-lstdc++"])]
        )
    ]
}
