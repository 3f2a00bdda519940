import CGatewayShims

/// The system libnghttp2 the gateway is linked against (HTTP/2 to upstreams uses it).
public enum NGHTTP2Library {
    public static var version: String { String(cString: pc_nghttp2_version()) }
}
