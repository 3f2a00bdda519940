import ArgumentParser
import AuthFilter
import CompressFilter
import CORSFilter
import FaultFilter
import GatewayCore
import GatewayFilterAPI
import HeadersFilter
import IPFilter
import RateLimitFilter
import RedirectFilter
import TarpitFilter
import LuaFilters
import RouteByFilter
import ShadowFilter

/// The filters this build knows, by YAML name. Adding a filter: a folder under filters/, a target in
/// Package.swift, and one line here.
enum BuiltinFilters {
    static let factories: [any HTTPFilterFactory.Type] = [
        IPFilterFactory.self,
        HeadersFilterFactory.self,
        CORSFilterFactory.self,
        CompressFilterFactory.self,
        RedirectFilterFactory.self,
        FaultFilterFactory.self,
        AuthFilterFactory.self,
        RateLimitFilterFactory.self,
        TarpitFilterFactory.self,
        LuaFilterFactory.self,
        RouteByFilterFactory.self,
        ShadowFilterFactory.self,
    ]

    /// A name registered twice is a build mistake: refuse to start rather than pick one.
    static func registry() throws -> FilterRegistry {
        do {
            return try FilterRegistry(factories)
        } catch {
            printError("startup error: \(error)")
            throw ExitCode(1)
        }
    }
}
