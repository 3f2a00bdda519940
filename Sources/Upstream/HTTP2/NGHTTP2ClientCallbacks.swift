import CNGHTTP2

/// The nghttp2 callback table and session options every upstream HTTP/2 connection shares. Built once;
/// nghttp2 copies both into each new session, so sharing them across event loops is safe.
final class NGHTTP2ClientCallbacks: @unchecked Sendable {
    static let shared = NGHTTP2ClientCallbacks()

    let callbacks: OpaquePointer
    let options: OpaquePointer

    private init() {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        self.callbacks = callbacks!
        var options: OpaquePointer?
        nghttp2_option_new(&options)
        self.options = options!

        // Response bodies are acknowledged when the downstream has taken them, not on arrival.
        nghttp2_option_set_no_auto_window_update(self.options, 1)
        nghttp2_option_set_max_outbound_ack(self.options, 1000)
        nghttp2_option_set_max_settings(self.options, 32)
        nghttp2_option_set_peer_max_concurrent_streams(self.options, UInt32(HTTP2UpstreamConnection.assumedConcurrentStreams))

        let table = self.callbacks
        nghttp2_session_callbacks_set_send_callback(table) { _, data, length, _, user in
            HTTP2UpstreamConnection.from(user).sendCallback(data!, length)
        }
        nghttp2_session_callbacks_set_on_header_callback(table) { _, frame, name, nameLength, value, valueLength, _, user in
            HTTP2UpstreamConnection.from(user).onHeader(frame!, UnsafeRawBufferPointer(start: name, count: nameLength),
                                                        UnsafeRawBufferPointer(start: value, count: valueLength))
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(table) { _, frame, user in
            HTTP2UpstreamConnection.from(user).onFrameReceived(frame!)
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(table) { _, _, streamID, data, length, user in
            HTTP2UpstreamConnection.from(user).onDataChunk(streamID, UnsafeRawBufferPointer(start: data, count: length))
        }
        nghttp2_session_callbacks_set_on_frame_not_send_callback(table) { _, frame, error, user in
            HTTP2UpstreamConnection.from(user).onFrameNotSent(frame!, error)
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(table) { _, streamID, errorCode, user in
            HTTP2UpstreamConnection.from(user).onStreamClose(streamID, errorCode)
        }
    }
}
