// swift-tools-version:6.2
import PackageDescription

/// libFuzzer targets for brig's parsers of untrusted bytes, one executable per parser. A package
/// of its own so that `swift build` and `swift test` of the root package never see them; build
/// and run them with `scripts/fuzz` (which adds `-sanitize=fuzzer,address`).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "brig-fuzz",
    dependencies: [.package(name: "brig", path: "../..")],
    targets: [
        // The declaration of libFuzzer's driver, which each target's main starts.
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "fuzz-jsonrpc", dependencies: ["CFuzzDriver", .product(name: "BrigJSONRPC", package: "brig")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fuzz-profile", dependencies: ["CFuzzDriver", .product(name: "BrigProfile", package: "brig")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fuzz-audit", dependencies: ["CFuzzDriver", .product(name: "BrigAudit", package: "brig")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fuzz-jwt",
            dependencies: [
                "CFuzzDriver", .product(name: "BrigPolicy", package: "brig"),
                .product(name: "BrigProfile", package: "brig"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fuzz-jsonc",
            dependencies: [
                "CFuzzDriver", .product(name: "BrigHostConfig", package: "brig"),
                .product(name: "BrigJSONRPC", package: "brig"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fuzz-egress",
            dependencies: ["CFuzzDriver", .product(name: "BrigEgress", package: "brig"), .product(name: "BrigProfile", package: "brig")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "fuzz-sanitizer", dependencies: ["CFuzzDriver", .product(name: "BrigContent", package: "brig")],
            swiftSettings: swiftSettings),
    ]
)
