import CORSFilter
import GatewayFilterAPI
import HeadersFilter
import IPFilter
import LuaFilters

/// The same list as the executable's `BuiltinFilters.factories` (an executable target cannot be imported).
let builtinFilterTypes: [any HTTPFilterFactory.Type] = [IPFilterFactory.self, HeadersFilterFactory.self, CORSFilterFactory.self, LuaFilterFactory.self]
