// swift-tools-version:6.2
import PackageDescription

/// Settings every Swift target shares: Swift 6 language mode (the tools-version default), the
/// upcoming features that make imports and existentials explicit, and warnings as errors (our
/// targets only, not the packages we depend on), so a warning cannot land.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "brig",
    products: [
        .executable(name: "brig", targets: ["brig"]),
        // The parsers of untrusted bytes, as libraries so the fuzz package (Tests/fuzz) can link them.
        .library(name: "BrigJSONRPC", targets: ["BrigJSONRPC"]),
        .library(name: "BrigProfile", targets: ["BrigProfile"]),
        .library(name: "BrigPolicy", targets: ["BrigPolicy"]),
        .library(name: "BrigSecrets", targets: ["BrigSecrets"]),
        .library(name: "BrigAudit", targets: ["BrigAudit"]),
        .library(name: "BrigContent", targets: ["BrigContent"]),
        .library(name: "BrigHostConfig", targets: ["BrigHostConfig"]),
        .library(name: "BrigEgress", targets: ["BrigEgress"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
    ],
    targets: [
        // C libraries, reached through system-library targets (pkg-config + apt providers).
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibssl", pkgConfig: "libssl", providers: [.apt(["libssl-dev"])]),
        // glibc's splice(2), pipe2(2) and pthread_setname_np, declared only under _GNU_SOURCE (a
        // header, no code).
        .systemLibrary(name: "CGlibcGNU"),
        // The only C of our own: the code that runs between fork and exec, and kernel calls
        // Swift cannot make (variadic prctl/syscall, ioctl, _GNU_SOURCE-only declarations).
        .target(name: "CBrigShim", cSettings: [.define("_GNU_SOURCE")]),

        // The bottom of the stack, Swift over Glibc (and glibc's GNU declarations): files, errno,
        // threads, clocks, hex, byte search, sizes, the state directory. Every module below the CLI
        // builds on it.
        .target(name: "BrigSystem", dependencies: ["CGlibcGNU"], swiftSettings: swiftSettings),
        // Pure Swift: the light JSON-RPC view of a line, framing, the in-flight table.
        .target(name: "BrigJSONRPC", dependencies: ["BrigSystem"], swiftSettings: swiftSettings),
        // Profiles: YAML loading, `extends`, variables, validation with file:line:key errors.
        .target(
            name: "BrigProfile",
            dependencies: ["BrigSystem", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        // MCP message policy: methods, tools, arguments, resources, prompts, scopes, roles, tokens, rates.
        .target(
            name: "BrigPolicy",
            dependencies: [
                "BrigSystem", "BrigJSONRPC", "BrigProfile",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings),
        // Secret detection, shared by the audit trail and the content defenses: the pattern table,
        // the redactor built from it, the byte pre-checks.
        .target(name: "BrigSecrets", dependencies: ["BrigSystem", "BrigJSONRPC"], swiftSettings: swiftSettings),
        // The audit trail: records, the HMAC chain, the writer, verification.
        .target(
            name: "BrigAudit",
            dependencies: ["BrigSystem", "BrigJSONRPC", "BrigSecrets", "BrigProfile", "CLibcrypto", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        // Shipping the trail to a collector: syslog over TCP/TLS, RELP, the persisted position.
        .target(
            name: "BrigForward",
            dependencies: ["BrigSystem", "BrigAudit", "BrigJSONRPC", "CLibssl"],
            swiftSettings: swiftSettings),
        // Defenses in the content: pinning definitions, sanitizing text, poisoning flags, secret leaks.
        .target(
            name: "BrigContent",
            dependencies: ["BrigSystem", "BrigJSONRPC", "BrigProfile", "BrigSecrets", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings),
        // The egress proxy for the confined server: CONNECT and plain HTTP, decided by name before
        // resolution and by address after, relayed with splice(2).
        .target(name: "BrigEgress", dependencies: ["BrigSystem", "BrigProfile", "CGlibcGNU"], swiftSettings: swiftSettings),
        // Swift over C: spawning the child under seccomp, capabilities, Landlock, rlimits.
        .target(
            name: "BrigSandbox",
            dependencies: ["BrigSystem", "CBrigShim", "CSeccomp"],
            swiftSettings: swiftSettings),
        // From a profile to a confinement: the sandbox plan (seccomp, Landlock, capabilities, limits,
        // namespaces, environment), the session's cgroup and private tmp. `brig check` uses it alone.
        .target(name: "BrigPlan", dependencies: ["BrigSystem", "BrigProfile", "BrigSandbox"], swiftSettings: swiftSettings),
        // The relay and the child's supervision: threads, signals, lifecycle, exit codes.
        .target(
            name: "BrigRelay",
            dependencies: [
                "BrigSystem", "BrigJSONRPC", "BrigSandbox", "BrigPlan", "BrigProfile", "BrigPolicy", "BrigAudit", "BrigContent", "BrigEgress",
            ],
            swiftSettings: swiftSettings),
        // Learn mode: watch a real session, write the tightest profile that still runs the server.
        .target(
            name: "BrigLearn",
            dependencies: ["BrigSystem", "BrigRelay", "BrigSandbox", "BrigPlan", "BrigProfile", "BrigPolicy", "BrigJSONRPC", "BrigEgress"],
            swiftSettings: swiftSettings),
        // Host configs (Claude Desktop, Claude Code, VS Code, Cursor, Zed, Windsurf, Cline): finding them,
        // JSONC with exact positions, and the minimal edits of `brig wrap`/`unwrap`.
        .target(name: "BrigHostConfig", dependencies: ["BrigSystem", "BrigJSONRPC"], swiftSettings: swiftSettings),
        // Commands (run, check, profiles), kept in a library so they can be tested.
        .target(
            name: "BrigCLI",
            dependencies: [
                "BrigSystem", "BrigJSONRPC", "BrigProfile", "BrigSandbox", "BrigPlan", "BrigPolicy", "BrigAudit", "BrigContent", "BrigRelay",
                "BrigLearn", "BrigHostConfig", "BrigForward",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
        .executableTarget(name: "brig", dependencies: ["BrigCLI"], swiftSettings: swiftSettings),

        .testTarget(name: "BrigSystemTests", dependencies: ["BrigSystem"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigSecretsTests", dependencies: ["BrigSystem", "BrigSecrets"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigJSONRPCTests", dependencies: ["BrigSystem", "BrigJSONRPC"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigProfileTests", dependencies: ["BrigSystem", "BrigProfile"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigPolicyTests", dependencies: ["BrigSystem", "BrigJSONRPC", "BrigProfile", "BrigPolicy"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigContentTests", dependencies: ["BrigSystem", "BrigSecrets", "BrigProfile", "BrigContent"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigAuditTests", dependencies: ["BrigSystem", "BrigSecrets", "BrigAudit"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigForwardTests", dependencies: ["BrigSystem", "BrigForward", "BrigAudit"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigSandboxTests", dependencies: ["BrigSystem", "BrigSandbox"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigLearnTests", dependencies: ["BrigSystem", "BrigProfile", "BrigLearn"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigPlanTests", dependencies: ["BrigSystem", "BrigProfile", "BrigSandbox", "BrigPlan"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigRelayTests", dependencies: ["BrigSystem", "BrigRelay"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigEgressTests", dependencies: ["BrigSystem", "BrigProfile", "BrigEgress"], swiftSettings: swiftSettings),
        .testTarget(name: "BrigHostConfigTests", dependencies: ["BrigSystem", "BrigHostConfig"], swiftSettings: swiftSettings),
        .testTarget(
            name: "BrigCLITests", dependencies: ["BrigSystem", "BrigPlan", "BrigRelay", "BrigCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),
    ]
)
