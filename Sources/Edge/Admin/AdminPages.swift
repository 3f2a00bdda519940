import GatewayCore
import GatewayFilterAPI
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

    /// The status page: rendered complete on the server (readable without JavaScript), then kept live by a
    /// small script that reads `/status.json` every 2 s and updates the cells in place (no page reload,
    /// no flicker); once a config reload (or a DNS answer) changed what the page lists, it loads anew.
    static func statusHTML(_ metrics: LoopMetrics.Snapshot, health: [ClusterHealthStatus], runtime: GatewayRuntime, draining: Bool,
                           generation: Int) -> String {
        let clusters = runtime.clusters
        let metrics = metrics.aligned(to: clusters)
        let health = ClusterHealthStatus.aligned(health, to: clusters)
        var out = """
        <!doctype html><html><head><meta charset="utf-8"><title>Portcullis</title>
        <style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
        th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}td.l,th.l{text-align:left}
        .bad{color:#b00}.ok{color:#070}#updated{color:#666}</style></head><body data-generation="\(generation)">
        <h1>Portcullis</h1><p><b id="state" class="\(draining ? "bad" : "ok")">\(draining ? "draining" : "ready")</b> ·
        <span id="updated">live refresh every 2 s</span> ·
        <a href="metrics">metrics</a> · <a href="clusters">clusters</a> · <a href="config">config</a></p>
        <h2>Listeners</h2><table id="listeners"><tr><th class=l>listener</th><th class=l>address</th><th>conns</th><th>active reqs</th>
        <th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>TLS ok</th><th>TLS failed</th><th>h2 abuse</th></tr>
        """
        func cell(_ id: String, _ value: some CustomStringConvertible, bad: Bool = false) -> String {
            "<td id=\"\(id)\"\(bad ? " class=bad" : "")>\(value)</td>"
        }
        func classes(_ id: String, _ counts: StatusClassCounts) -> String {
            zip(PrometheusText.classes, counts.counts).dropFirst().map { cell("\(id)-\($0)", $1) }.joined()
        }
        for (index, listener) in runtime.listeners.enumerated() {
            let c = metrics.listeners[index]
            out += "<tr class=listener><td class=l>\(html(listener.name))</td><td class=l>\(html(listener.address.description))\(listener.tls == nil ? "" : " (TLS)")</td>"
            out += cell("l\(index)-conns", c.activeConnections) + cell("l\(index)-active", c.activeRequests)
            out += classes("l\(index)", c.requests)
            out += cell("l\(index)-tls", c.tlsHandshakes) + cell("l\(index)-tlsfail", c.tlsHandshakeFailures, bad: c.tlsHandshakeFailures > 0)
            out += cell("l\(index)-h2abuse", c.http2AbuseGoaways) + "</tr>"
        }
        out += "</table><h2>Routes</h2><table id=\"routes\"><tr><th class=l>listener</th><th>#</th><th class=l>match</th><th class=l>cluster</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th></tr>"
        for (index, listener) in runtime.listeners.enumerated() {
            for route in listener.routes.routes {
                var match: [String] = []
                if let host = route.match.host { match.append("host \(host)") }
                if let prefix = route.match.pathPrefix { match.append("prefix \(prefix)") }
                if let path = route.match.path { match.append("path \(path)") }
                out += "<tr class=route><td class=l>\(html(listener.name))</td><td>\(route.index)</td><td class=l>\(html(match.joined(separator: ", ")))</td>"
                out += "<td class=l>\(html(route.clusterName))</td>"
                out += classes("r\(index)-\(route.index)", metrics.listeners[index].routeRequests[route.index]) + "</tr>"
            }
        }
        out += "</table><h2>Clusters</h2><table id=\"clusters\"><tr><th class=l>cluster</th><th class=l>endpoint</th><th class=l>zone</th><th>weight</th><th class=l>health</th><th>ejections</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th><th>failures</th></tr>"
        for (index, cluster) in clusters.enumerated() {
            for (position, endpoint) in cluster.endpoints.enumerated() {
                let failures = metrics.clusters[index].endpointFailures[position]
                let state = health[index].health(position)
                let id = "c\(index)-\(position)"
                out += "<tr class=endpoint><td class=l>\(html(cluster.name))<b id=\"\(id)-panic\" class=bad>\(health[index].availability.panic ? " panic" : "")</b></td>"
                out += "<td id=\"\(id)-address\" class=l>\(html(endpoint.label))</td><td class=l>\(html(endpoint.zone ?? ""))</td><td>\(endpoint.weight)</td>"
                out += "<td id=\"\(id)-health\" class=\"l \(state == "healthy" ? "ok" : "bad")\">\(state)</td>" + cell("\(id)-ejections", health[index].ejectionsTotal[position])
                out += classes(id, metrics.clusters[index].endpointRequests[position])
                out += cell("\(id)-failures", failures, bad: failures > 0) + "</tr>"
            }
        }
        return out + "</table>\n<script>\n" + liveRefreshScript + "</script></body></html>\n"
    }

    /// Reads `status.json` (relative: the page also works behind a path-rewriting proxy) and writes each
    /// value into the cell of the same id. Plain ES2017, no library.
    static let liveRefreshScript = """
        "use strict";
        (function () {
          const classes = ["2xx", "3xx", "4xx", "5xx"];
          let refreshes = 0;
          function set(id, value, bad) {
            const cell = document.getElementById(id);
            if (!cell) return;
            const text = String(value);
            if (cell.textContent !== text) cell.textContent = text;
            if (bad !== undefined) cell.classList.toggle("bad", bad);
          }
          function counts(prefix, responses) {
            classes.forEach(function (name, slot) { set(prefix + "-" + name, responses[slot + 1]); });
          }
          async function refresh() {
            try {
              const response = await fetch("status.json", { cache: "no-store" });
              const status = await response.json();
              // Another config, or a DNS cluster's endpoints changed: the rows no longer match; load the page anew.
              let rows = 0, moved = false;
              status.clusters.forEach(function (cluster, c) {
                cluster.endpoints.forEach(function (endpoint, e) {
                  rows += 1;
                  const address = document.getElementById("c" + c + "-" + e + "-address");
                  if (!address || address.textContent !== endpoint.address) moved = true;
                });
              });
              if (String(status.generation) !== document.body.dataset.generation || moved
                  || rows !== document.querySelectorAll("tr.endpoint").length) { location.reload(); return; }
              const state = document.getElementById("state");
              state.textContent = status.draining ? "draining" : "ready";
              state.className = status.draining ? "bad" : "ok";
              status.listeners.forEach(function (listener, i) {
                const id = "l" + i;
                set(id + "-conns", listener.active_connections);
                set(id + "-active", listener.active_requests);
                counts(id, listener.responses);
                set(id + "-tls", listener.tls_handshakes);
                set(id + "-tlsfail", listener.tls_handshake_failures, listener.tls_handshake_failures > 0);
                set(id + "-h2abuse", listener.http2_abuse_goaways);
                listener.routes.forEach(function (responses, r) { counts("r" + i + "-" + r, responses); });
              });
              status.clusters.forEach(function (cluster, c) {
                cluster.endpoints.forEach(function (endpoint, e) {
                  const id = "c" + c + "-" + e;
                  set(id + "-panic", cluster.panic ? " panic" : "");
                  const health = document.getElementById(id + "-health");
                  if (health) { health.textContent = endpoint.health; health.className = "l " + (endpoint.health === "healthy" ? "ok" : "bad"); }
                  set(id + "-ejections", endpoint.ejections);
                  counts(id, endpoint.responses);
                  set(id + "-failures", endpoint.failures, endpoint.failures > 0);
                });
              });
              refreshes += 1;
              document.body.dataset.refreshes = String(refreshes);
              set("updated", "updated " + new Date(status.time_unix_ms).toISOString().slice(11, 19) + " UTC");
            } catch (error) {
              set("updated", "refresh failed: " + error.message);
            }
            setTimeout(refresh, 2000);
          }
          setTimeout(refresh, 2000);
        })();

        """

    /// What the status page's script reads: the page's numbers, by position in the config.
    static func statusJSON(_ metrics: LoopMetrics.Snapshot, health: [ClusterHealthStatus], runtime: GatewayRuntime, draining: Bool,
                           generation: Int) -> String {
        let clusters = runtime.clusters
        let metrics = metrics.aligned(to: clusters)
        let health = ClusterHealthStatus.aligned(health, to: clusters)
        func list(_ counts: StatusClassCounts) -> String { "[" + counts.counts.map(String.init).joined(separator: ",") + "]" }
        var out = "{\"generation\":\(generation),\"draining\":\(draining),\"time_unix_ms\":\(ProxyStream.unixNanosNow() / 1_000_000),\"listeners\":["
        out += runtime.listeners.enumerated().map { index, listener in
            let c = metrics.listeners[index]
            return "{\"name\":\(quote(listener.name)),\"active_connections\":\(c.activeConnections),\"active_requests\":\(c.activeRequests),"
                + "\"responses\":\(list(c.requests)),\"tls_handshakes\":\(c.tlsHandshakes),\"tls_handshake_failures\":\(c.tlsHandshakeFailures),"
                + "\"http2_abuse_goaways\":\(c.http2AbuseGoaways),\"routes\":[\(c.routeRequests.map(list).joined(separator: ","))]}"
        }.joined(separator: ",")
        out += "],\"clusters\":["
        out += clusters.enumerated().map { index, cluster in
            let status = health[index]
            let endpoints = cluster.endpoints.enumerated().map { position, endpoint in
                "{\"address\":\(quote(endpoint.label)),\"health\":\"\(status.health(position))\",\"ejections\":\(status.ejectionsTotal[position]),"
                    + "\"responses\":\(list(metrics.clusters[index].endpointRequests[position])),\"failures\":\(metrics.clusters[index].endpointFailures[position])}"
            }
            return "{\"name\":\(quote(cluster.name)),\"panic\":\(status.availability.panic),\"endpoints\":[\(endpoints.joined(separator: ","))]}"
        }.joined(separator: ",")
        return out + "]}\n"
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
