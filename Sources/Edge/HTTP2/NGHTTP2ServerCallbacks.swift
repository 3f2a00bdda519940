import CNGHTTP2

/// The nghttp2 callback table and session options every server connection shares. Built once; nghttp2
/// copies both into each new session, so sharing them across event loops is safe.
final class NGHTTP2ServerCallbacks: @unchecked Sendable {
    static let shared = NGHTTP2ServerCallbacks()

    let callbacks: OpaquePointer
    let options: OpaquePointer

    private init() {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        self.callbacks = callbacks!
        var options: OpaquePointer?
        nghttp2_option_new(&options)
        self.options = options!

        // Request bodies are acknowledged when they have been passed upstream, not on arrival.
        nghttp2_option_set_no_auto_window_update(self.options, 1)
        // Queued SETTINGS/PING ACKs a client can pile up by not reading (nghttp2's own flood guard).
        nghttp2_option_set_max_outbound_ack(self.options, 1000)
        nghttp2_option_set_max_settings(self.options, 32)
        // Closed streams are dropped at once (no priority tree to keep them for; see the SETTINGS).
        nghttp2_option_set_no_closed_streams(self.options, 1)

        let table = self.callbacks
        nghttp2_session_callbacks_set_send_callback(table) { _, data, length, _, user in
            HTTP2ServerConnectionHandler.from(user).sendCallback(data, length)
        }
        nghttp2_session_callbacks_set_send_data_callback(table) { _, frame, header, length, source, user in
            HTTP2ServerConnectionHandler.from(user).sendDataCallback(frame!, header!, length, source!)
        }
        nghttp2_session_callbacks_set_on_begin_frame_callback(table) { _, header, user in
            HTTP2ServerConnectionHandler.from(user).onBeginFrame(header!)
        }
        nghttp2_session_callbacks_set_on_begin_headers_callback(table) { _, frame, user in
            HTTP2ServerConnectionHandler.from(user).onBeginHeaders(frame!)
        }
        nghttp2_session_callbacks_set_on_header_callback(table) { _, frame, name, nameLength, value, valueLength, _, user in
            HTTP2ServerConnectionHandler.from(user).onHeader(frame!, UnsafeRawBufferPointer(start: name, count: nameLength),
                                                             UnsafeRawBufferPointer(start: value, count: valueLength))
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(table) { _, frame, user in
            HTTP2ServerConnectionHandler.from(user).onFrameReceived(frame!)
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(table) { _, _, streamID, data, length, user in
            HTTP2ServerConnectionHandler.from(user).onDataChunk(streamID, UnsafeRawBufferPointer(start: data, count: length))
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(table) { _, frame, user in
            HTTP2ServerConnectionHandler.from(user).onFrameSent(frame!)
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(table) { _, streamID, errorCode, user in
            HTTP2ServerConnectionHandler.from(user).onStreamClose(streamID, errorCode)
        }
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(table) { _, _, _, user in
            HTTP2ServerConnectionHandler.from(user).onInvalidFrame()
        }
    }
}

/// The response body's data source: the stream object travels in `source.ptr`.
let http2ReadResponseBody: nghttp2_data_source_read_callback = { _, _, _, length, flags, source, user in
    HTTP2ServerConnectionHandler.from(user).readResponseBody(source!, length, flags!)
}
