// swift-tools-version:6.0
import PackageDescription

// Release builds skip Swift's dynamic exclusivity checks: every piece of per-connection state is
// touched from one event loop only, and the checks cost several percent of the request path.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "portcullis",
    // macOS 15: the Synchronization module (atomic circuit-breaker counters).
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: libssl-dev, libnghttp2-dev, liblua5.4-dev).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBrotli", pkgConfig: "libbrotlienc", providers: [.apt(["libbrotli-dev"])]),
        // libyaml for the config: keeps Foundation (which Yams needs) out of the binary.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // The C macros Swift cannot import, wrapped as functions.
        .target(name: "CGatewayShims", dependencies: ["COpenSSL", "CNGHTTP2", "CLua"]),
        // The C half of the Lua runtime: allocator with a cap, instruction hook, the trampoline that keeps
        // Lua errors (longjmp) out of Swift frames, and the pure gw.* codecs.
        .target(name: "CLuaShims", dependencies: ["CLua", "COpenSSL"]),

        .target(
            name: "GatewayFilterAPI",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict),
        .target(
            name: "GatewayTLS",
            dependencies: [
                "COpenSSL", "CGatewayShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(
            name: "HTTP1",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict),
        .target(
            name: "Upstream",
            dependencies: [
                "HTTP1", "GatewayTLS", "CNGHTTP2", "CGatewayShims", "COpenSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "GatewayCore",
            dependencies: [
                "GatewayFilterAPI", "Upstream", "HTTP1", "CYAML", "GatewayTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "Edge",
            dependencies: [
                "GatewayCore", "GatewayFilterAPI", "GatewayTLS", "HTTP1", "CNGHTTP2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "EchoBackend",
            dependencies: [
                "GatewayFilterAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict),
        .target(
            name: "LuaFilters",
            dependencies: [
                "GatewayFilterAPI", "CLua", "CLuaShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict),
        // Built-in filters: one folder each under filters/, built against the filter API only.
        .target(
            name: "IPFilter",
            dependencies: ["GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "filters/ip-filter/Sources",
            swiftSettings: strict),
        .target(
            name: "HeadersFilter",
            dependencies: ["GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "filters/headers/Sources",
            swiftSettings: strict),
        .target(
            name: "RouteByFilter",
            dependencies: ["GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "filters/route-by/Sources",
            swiftSettings: strict),
        .target(
            name: "ShadowFilter",
            dependencies: ["GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "Atomics", package: "swift-atomics")],
            path: "filters/shadow/Sources",
            swiftSettings: strict),
        .target(
            name: "FaultFilter",
            dependencies: ["GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "Atomics", package: "swift-atomics")],
            path: "filters/fault/Sources",
            swiftSettings: strict),
        .target(
            name: "RedirectFilter",
            dependencies: ["GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "filters/redirect/Sources",
            swiftSettings: strict),
        // gzip response compression with the system zlib.
        .target(
            name: "CompressFilter",
            dependencies: ["GatewayFilterAPI", "CZlib", "CBrotli", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "filters/compress/Sources",
            swiftSettings: strict),
        .target(
            name: "CORSFilter",
            dependencies: ["GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            path: "filters/cors/Sources",
            swiftSettings: strict),
        // JWT (libcrypto), API keys, HTTP basic (bcrypt in Swift); a small NIO HTTP/1.1 client (with GatewayTLS for https) for JWKS URLs.
        .target(
            name: "AuthFilter",
            dependencies: [
                "GatewayFilterAPI", "COpenSSL", "GatewayTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            path: "filters/auth/Sources",
            swiftSettings: strict),
        // Needs NIOPosix for its Redis connections and Atomics for the lock-free local buckets.
        .target(
            name: "RateLimitFilter",
            dependencies: [
                "GatewayFilterAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "filters/rate-limit/Sources",
            swiftSettings: strict),
        // Reuses ip_filter's CIDR ranges and the rate limiter's lock-free key table (for the 4xx rule).
        .target(
            name: "TarpitFilter",
            dependencies: [
                "GatewayFilterAPI", "IPFilter", "RateLimitFilter",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            path: "filters/tarpit/Sources",
            swiftSettings: strict),
        .executableTarget(
            name: "portcullis",
            dependencies: [
                "Edge", "GatewayCore", "GatewayTLS", "Upstream", "EchoBackend", "CGatewayShims",
                "GatewayFilterAPI", "IPFilter", "HeadersFilter", "CORSFilter", "CompressFilter", "RedirectFilter", "FaultFilter", "AuthFilter", "RateLimitFilter", "TarpitFilter", "LuaFilters", "RouteByFilter", "ShadowFilter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        .testTarget(
            name: "HTTP1Tests",
            dependencies: [
                "HTTP1",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "GatewayCoreTests",
            dependencies: ["GatewayCore", "Upstream", "GatewayFilterAPI", "HTTP1", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strict),
        .testTarget(name: "IPFilterTests", dependencies: ["IPFilter"], path: "filters/ip-filter/Tests", swiftSettings: strict),
        .testTarget(name: "HeadersFilterTests", dependencies: ["HeadersFilter", .product(name: "HTTPTypes", package: "swift-http-types")],
                    path: "filters/headers/Tests", swiftSettings: strict),
        .testTarget(
            name: "LuaFiltersTests",
            dependencies: ["LuaFilters", "GatewayFilterAPI", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"), .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: strict),
        .testTarget(name: "CORSFilterTests", dependencies: ["CORSFilter"], path: "filters/cors/Tests", swiftSettings: strict),
        .testTarget(name: "RedirectFilterTests", dependencies: ["RedirectFilter"], path: "filters/redirect/Tests", swiftSettings: strict),
        .testTarget(name: "CompressFilterTests", dependencies: ["CompressFilter", "CZlib", "CBrotli", .product(name: "NIOCore", package: "swift-nio")],
                    path: "filters/compress/Tests", swiftSettings: strict),
        .testTarget(name: "AuthFilterTests", dependencies: ["AuthFilter", "COpenSSL", .product(name: "NIOCore", package: "swift-nio"),
                                                         .product(name: "HTTPTypes", package: "swift-http-types")],
                    path: "filters/auth/Tests", swiftSettings: strict),
        .testTarget(name: "RateLimitFilterTests", dependencies: ["RateLimitFilter", .product(name: "NIOCore", package: "swift-nio")],
                    path: "filters/rate-limit/Tests", swiftSettings: strict),
        .testTarget(name: "TarpitFilterTests", dependencies: ["TarpitFilter", .product(name: "NIOCore", package: "swift-nio")],
                    path: "filters/tarpit/Tests", swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Edge", "GatewayCore", "GatewayTLS", "EchoBackend", "CNGHTTP2", "GatewayFilterAPI", "IPFilter", "HeadersFilter", "CORSFilter", "CompressFilter", "RedirectFilter", "FaultFilter",
                "AuthFilter", "COpenSSL", "RateLimitFilter", "TarpitFilter", "LuaFilters", "RouteByFilter", "ShadowFilter",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // The Python helper servers and clients the tests run as processes.
            exclude: ["Support/python"],
            swiftSettings: strict),
    ]
)
