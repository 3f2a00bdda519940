import AuthFilter
import CompressFilter
import CORSFilter
import FaultFilter
import GatewayFilterAPI
import HeadersFilter
import IPFilter
import LuaFilters
import RouteByFilter
import ShadowFilter
import RateLimitFilter
import RedirectFilter
import TarpitFilter

/// The same list as the executable's `BuiltinFilters.factories` (an executable target cannot be imported).
let builtinFilterTypes: [any HTTPFilterFactory.Type] = [IPFilterFactory.self, HeadersFilterFactory.self, CORSFilterFactory.self, CompressFilterFactory.self, RedirectFilterFactory.self, FaultFilterFactory.self, AuthFilterFactory.self,
                                                     RateLimitFilterFactory.self, TarpitFilterFactory.self, LuaFilterFactory.self,
                                                     RouteByFilterFactory.self, ShadowFilterFactory.self]
