import HTTPTypes
import NIOCore

/// A response the gateway writes itself (errors, rejections): a short plain-text body with its length.
public struct LocalReply {
    public var response: HTTPResponse
    public var body: ByteBuffer

    public init(_ error: GatewayError) {
        body = ByteBuffer(string: error.publicMessage)
        response = HTTPResponse(status: error.status)
        response.headerFields[.contentType] = "text/plain; charset=utf-8"
        response.headerFields[.contentLength] = String(body.readableBytes)
    }
}
