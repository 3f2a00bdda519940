/// The GCRA step as one Redis script: read the key's TAT, decide, write the new TAT, atomically, so
/// gateways deciding for the same key at once cannot both take the last token. Time is Redis's own
/// (`TIME`), so the gateways' clocks do not need to agree. Microseconds keep the numbers exact in
/// Lua's doubles. The key expires when its bucket would be full again: idle keys cost Redis nothing.
///
/// ARGV: emission interval (µs), tolerance = burst × interval (µs).
/// Returns `{1, remaining, reset_us}` when allowed, `{0, retry_after_us, reset_us}` when limited.
enum RedisGCRAScript {
    static let source = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local interval = tonumber(ARGV[1])
        local tolerance = tonumber(ARGV[2])
        local tat = tonumber(redis.call('GET', KEYS[1])) or now
        if tat < now then tat = now end
        local ahead = tat + interval - now
        if ahead > tolerance then
          return {0, ahead - tolerance, tat - now}
        end
        redis.call('SET', KEYS[1], string.format('%d', tat + interval), 'PX', math.ceil(ahead / 1000))
        return {1, math.floor((tolerance - ahead) / interval), ahead}
        """

    /// SHA-1 of `source`, for EVALSHA (a unit test checks it against `sha1sum`). Should it ever be
    /// wrong, NOSCRIPT makes every decision fall back to EVAL: slower, still correct.
    static let sha1 = "71f386f28052d2fff3b7a3467dd2baeab88e151e"
}
