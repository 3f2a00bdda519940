import GatewayCore
import Upstream

/// The admin listener's JSON and HTML views of the counters.
enum AdminPages {
    static func clustersJSON(_ metrics: LoopMetrics.Snapshot, health: [ClusterHealthStatus], runtime: GatewayRuntime) -> String {
        let clusters = runtime.clusters
        let metrics = metrics.aligned(to: clusters)
        let health = ClusterHealthStatus.aligned(health, to: clusters)
        var out = "{\"clusters\":["
        for (index, cluster) in clusters.enumerated() {
            if index > 0 { out += "," }
            let status = health[index]
            let c = metrics.clusters[index]
            out += "{\"name\":\(quote(cluster.name)),\"lb\":\(quote(cluster.options.lb.rawValue)),\"panic\":\(status.availability.panic),"
            if let zone = cluster.options.localZone { out += "\"local_zone\":\(quote(zone.zone)),\"local_zone_min_healthy_percent\":\(zone.minHealthyPercent)," }
            if let sticky = cluster.options.sticky { out += "\"sticky\":\(quote(Self.stickyMode(sticky))),\"sticky_mode\":\"\(sticky.onUnavailable.rawValue)\"," }
            out += "\"healthy_endpoints\":\(status.availability.upCount),\"retries\":\(c.retries),\"retry_overflows\":\(c.retryOverflows),"
            out += "\"overflows\":{\(zip(CircuitBreaker.allCases, c.overflows).map { "\"\($0.rawValue)\":\($1)" }.joined(separator: ","))},"
            out += "\"endpoints\":["
            for (position, endpoint) in cluster.endpoints.enumerated() {
                if position > 0 { out += "," }
                let counts = c.endpointRequests[position]
                out += "{\"address\":\(quote(endpoint.label)),\"weight\":\(endpoint.weight),\"zone\":\(endpoint.zone.map(quote) ?? "null"),"
                out += "\"health\":\"\(status.health(position))\","
                out += "\"active_check\":\"\(status.activeCheck(position))\","
                out += "\"ejected\":\(status.availability.ejected[position]),\"ejections\":\(status.ejectionsTotal[position]),"
                out += "\"health_check_failures\":\(status.healthCheckFailures[position]),"
                out += "\"responses\":{\(zip(PrometheusText.classes, counts.counts).map { "\"\($0)\":\($1)" }.joined(separator: ","))},"
                out += "\"failures\":\(c.endpointFailures[position])}"
            }
            out += "]}"
        }
        return out + "]}\n"
    }

    static func stickyMode(_ sticky: StickySettings) -> String {
        switch sticky.mode {
        case .cookie(let cookie): "cookie \(cookie.name)"
        case .header(let name): "header \(name)"
        case .appCookie(let name, _): "app_cookie \(name)"
        }
    }

    static func statusHTML(_ metrics: LoopMetrics.Snapshot, health: [ClusterHealthStatus], runtime: GatewayRuntime, draining: Bool) -> String {
        let clusters = runtime.clusters
        let metrics = metrics.aligned(to: clusters)
        let health = ClusterHealthStatus.aligned(health, to: clusters)
        var out = """
        <!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>Portcullis</title>
        <style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
        th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}td.l,th.l{text-align:left}
        .bad{color:#b00}.ok{color:#070}</style></head><body>
        <h1>Portcullis</h1><p>\(draining ? "<b class=bad>draining</b>" : "<b class=ok>ready</b>") · refreshed every 2 s ·
        <a href="/metrics">metrics</a> · <a href="/clusters">clusters</a> · <a href="/config">config</a></p>
        <h2>Listeners</h2><table><tr><th class=l>listener</th><th class=l>address</th><th>conns</th><th>active reqs</th>
        <th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>TLS ok</th><th>TLS failed</th><th>h2 abuse</th></tr>
        """
        for (index, listener) in runtime.listeners.enumerated() {
            let c = metrics.listeners[index]
            out += "<tr><td class=l>\(html(listener.name))</td><td class=l>\(html(listener.address.description))\(listener.tls == nil ? "" : " (TLS)")</td>"
            out += "<td>\(c.activeConnections)</td><td>\(c.activeRequests)</td>"
            out += c.requests.counts.dropFirst().map { "<td>\($0)</td>" }.joined()
            out += "<td>\(c.tlsHandshakes)</td><td\(c.tlsHandshakeFailures > 0 ? " class=bad" : "")>\(c.tlsHandshakeFailures)</td><td>\(c.http2AbuseGoaways)</td></tr>"
        }
        out += "</table><h2>Routes</h2><table><tr><th class=l>listener</th><th>#</th><th class=l>match</th><th class=l>cluster</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th></tr>"
        for (index, listener) in runtime.listeners.enumerated() {
            for route in listener.routes.routes {
                var match: [String] = []
                if let host = route.match.host { match.append("host \(host)") }
                if let prefix = route.match.pathPrefix { match.append("prefix \(prefix)") }
                if let path = route.match.path { match.append("path \(path)") }
                out += "<tr><td class=l>\(html(listener.name))</td><td>\(route.index)</td><td class=l>\(html(match.joined(separator: ", ")))</td>"
                out += "<td class=l>\(html(route.clusterName))</td>"
                out += metrics.listeners[index].routeRequests[route.index].counts.dropFirst().map { "<td>\($0)</td>" }.joined() + "</tr>"
            }
        }
        out += "</table><h2>Clusters</h2><table><tr><th class=l>cluster</th><th class=l>endpoint</th><th class=l>zone</th><th>weight</th><th class=l>health</th><th>ejections</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>failures</th></tr>"
        for (index, cluster) in clusters.enumerated() {
            for (position, endpoint) in cluster.endpoints.enumerated() {
                let failures = metrics.clusters[index].endpointFailures[position]
                let state = health[index].health(position)
                out += "<tr><td class=l>\(html(cluster.name))\(health[index].availability.panic ? " <b class=bad>panic</b>" : "")</td>"
                out += "<td class=l>\(html(endpoint.label))</td><td class=l>\(html(endpoint.zone ?? ""))</td><td>\(endpoint.weight)</td>"
                out += "<td class=\"l \(state == "healthy" ? "ok" : "bad")\">\(state)</td><td>\(health[index].ejectionsTotal[position])</td>"
                out += metrics.clusters[index].endpointRequests[position].counts.dropFirst().map { "<td>\($0)</td>" }.joined()
                out += "<td\(failures > 0 ? " class=bad" : "")>\(failures)</td></tr>"
            }
        }
        return out + "</table></body></html>\n"
    }

    static func quote(_ text: String) -> String { JSONText.quoted(text) }

    static func html(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
