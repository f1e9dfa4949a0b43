// swift-tools-version:6.1
// libFuzzer targets, kept out of the main package so that normal builds stay lean.
// Build and run with Tools/fuzz.sh (docs/fuzzing.md).
import PackageDescription

let package = Package(
    name: "IdentityLedgerFuzz",
    dependencies: [.package(name: "IdentityLedger", path: "../")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "FuzzCommandJSON", dependencies: ["CFuzzerDriver", .product(name: "IdentityLedger", package: "IdentityLedger")]),
        .executableTarget(name: "FuzzEventDecoder", dependencies: ["CFuzzerDriver", .product(name: "IdentityLedger", package: "IdentityLedger")]),
        .executableTarget(name: "FuzzImportReader", dependencies: ["CFuzzerDriver", .product(name: "IdentityLedger", package: "IdentityLedger")]),
    ]
)
