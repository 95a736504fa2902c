import BrigJSONRPC

/// One server entry of a host config, with the nodes `brig wrap` edits.
public struct ServerEntry: Sendable {
    public enum Transport: Sendable, Equatable {
        /// Started as a child process: wrappable.
        case stdio
        /// Reached over the network (`url`, `serverUrl`, `type: http|sse`): brig relays stdio only.
        case remote(String)
        /// Not a command brig can start: an extension Zed starts itself, or an entry without `command`.
        case other(String)
        /// A key of the entry has the wrong type (`FILE:LINE: KEY: ...`).
        case invalid(key: String, line: Int, message: String)
    }

    /// The server's name (its key).
    public var name: String
    /// The entry's JSON pointer (RFC 6901), e.g. `/mcpServers/time`: the key of its wrap record.
    public var pointer: String
    /// The entry's place in words, e.g. `mcpServers.time` or `projects."/home/me/p".mcpServers.time`.
    public var keyPath: String
    /// The project a Claude Code local-scope entry belongs to (`projects.<path>`).
    public var project: String?
    /// The 1-based line of the entry's key.
    public var line: Int
    public var transport: Transport
    /// The entry object.
    public var node: JSONCNode
    /// The object holding `command`/`path` and `args`: the entry, or Zed's older `command` object.
    public var container: JSONCNode?
    /// The string value the command is in: `command`, or `command.path` in Zed's older layout.
    public var commandValue: JSONCNode?
    /// The `command` (or `path`) member, for inserting `args` after it.
    public var commandMember: JSONCMember?
    public var argsMember: JSONCMember?
    public var command: String = ""
    public var args: [String] = []
    /// The entry's `cwd`, when it names one.
    public var cwd: String?
    /// The names of the variables the entry's `env` sets: the host sets them for brig, and brig
    /// passes a variable to the server only when its profile or `--env NAME` lets it.
    public var envNames: [String] = []
    /// The entry's `envFile` (VS Code), whose variable names brig cannot know.
    public var envFile: String?

    /// Whether the command is brig (so the entry is wrapped already).
    public func isWrapped(brigCommands: Set<String>) -> Bool {
        guard transport == .stdio else { return false }
        if brigCommands.contains(command) { return true }
        return ServerEntry.basename(command) == "brig"
    }

    /// For a wrapped entry: brig's own options and the server's command line after `--`.
    public var wrappedCommandLine: (options: [String], server: [String])? {
        guard let dash = args.firstIndex(of: "--") else { return nil }
        let server = Array(args[(dash + 1)...])
        return server.isEmpty ? nil : (Array(args[..<dash]), server)
    }

    static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// Finding the server entries in a parsed config.
public enum ServerList {
    /// Every entry of `document` in `layout`, in file order.
    public static func entries(in document: JSONCDocument, layout: Host.Layout) -> [ServerEntry] {
        let root = document.root
        switch layout {
        case .mcpServers:
            return entries(of: root.member("mcpServers"), base: ["mcpServers"], document: document, layout: layout, project: nil)
        case .vscode:
            return entries(of: root.member("servers"), base: ["servers"], document: document, layout: layout, project: nil)
        case .zed:
            return entries(of: root.member("context_servers"), base: ["context_servers"], document: document, layout: layout, project: nil)
        case .claudeCode:
            var out = entries(of: root.member("mcpServers"), base: ["mcpServers"], document: document, layout: layout, project: nil)
            for p in root["projects"]?.members ?? [] {
                out += entries(
                    of: p.value.member("mcpServers"), base: ["projects", p.key, "mcpServers"], document: document,
                    layout: layout, project: p.key)
            }
            return out
        }
    }

    /// Where `entries(in:layout:)` found a key of the wrong type: `mcpServers` not an object.
    public static func problems(in document: JSONCDocument, layout: Host.Layout) -> [(key: String, line: Int, message: String)] {
        let key: String
        switch layout {
        case .mcpServers, .claudeCode: key = "mcpServers"
        case .vscode: key = "servers"
        case .zed: key = "context_servers"
        }
        guard let m = document.root.member(key), !m.value.isObject else { return [] }
        return [(key, document.line(of: m.keyRange.lowerBound), "expected an object of servers, found \(m.value.kindName)")]
    }

    /// `NAME` as `--env` takes it: a letter or `_`, then letters, digits and `_`.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    static func pointer(_ parts: [String]) -> String {
        parts.map { "/" + $0.replacing("~", with: "~0").replacing("/", with: "~1") }.joined()
    }

    static func keyPath(_ parts: [String]) -> String {
        parts.map { part in
            let plain = !part.isEmpty && part.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }
            return plain ? part : JSONWriter.quoted(part)
        }.joined(separator: ".")
    }

    static func entries(
        of servers: JSONCMember?, base: [String], document: JSONCDocument, layout: Host.Layout,
        project: String?
    ) -> [ServerEntry] {
        guard let servers, servers.value.isObject else { return [] }
        var out: [ServerEntry] = []
        for m in servers.value.members {
            let parts = base + [m.key]
            var e = ServerEntry(
                name: m.key, pointer: pointer(parts), keyPath: keyPath(parts), project: project,
                line: document.line(of: m.keyRange.lowerBound), transport: .stdio, node: m.value)
            classify(&e, document: document, layout: layout)
            out.append(e)
        }
        return out
    }

    static func classify(_ e: inout ServerEntry, document: JSONCDocument, layout: Host.Layout) {
        func invalid(_ key: String, _ node: JSONCNode, _ message: String) {
            e.transport = .invalid(key: e.keyPath + "." + key, line: document.line(of: node.range.lowerBound), message: message)
        }
        guard e.node.isObject else {
            e.transport = .invalid(key: e.keyPath, line: e.line, message: "expected an object, found \(e.node.kindName)")
            return
        }
        let type = e.node["type"]?.string ?? e.node["transport"]?.string
        let url = e.node["url"]?.string ?? e.node["serverUrl"]?.string
        if let type, ["http", "sse", "streamable-http", "streamableHttp", "ws", "websocket"].contains(type) {
            e.transport = .remote(type + (url.map { " " + $0 } ?? ""))
            return
        }
        if e.node["command"] == nil, let url {
            e.transport = .remote(url)
            return
        }
        if e.node["command"] == nil, let transport = e.node["transport"], transport.isObject {
            e.transport = .remote((transport["type"]?.string ?? "remote") + (transport["url"]?.string.map { " " + $0 } ?? ""))
            return
        }
        guard let commandMember = e.node.member("command") else {
            if layout == .zed, e.node["source"]?.string == "extension" || e.node["settings"] != nil {
                e.transport = .other("a Zed extension's server (Zed starts it itself)")
            } else {
                e.transport = .other("no command")
            }
            return
        }
        var container = e.node
        var commandValue = commandMember.value
        var member = commandMember
        if layout == .zed, commandMember.value.isObject {
            // Zed before 0.190: "command": {"path": "...", "args": [...], "env": {...}}.
            container = commandMember.value
            guard let path = container.member("path") else {
                invalid("command", commandMember.value, "expected \"path\" in the command object")
                return
            }
            member = path
            commandValue = path.value
        }
        guard let command = commandValue.string, !command.isEmpty else {
            invalid(
                member.key == "path" ? "command.path" : "command", commandValue,
                commandValue.string == nil ? "expected a string, found \(commandValue.kindName)" : "an empty command")
            return
        }
        e.container = container
        e.commandMember = member
        e.commandValue = commandValue
        e.command = command
        if let args = container.member("args") {
            guard let strings = args.value.strings else {
                invalid(member.key == "path" ? "command.args" : "args", args.value, "expected an array of strings")
                return
            }
            e.argsMember = args
            e.args = strings
        }
        if let env = container.member("env") ?? e.node.member("env") {
            guard env.value.isObject else {
                invalid(
                    container.member("env") != nil && member.key == "path" ? "command.env" : "env", env.value,
                    "expected an object, found \(env.value.kindName)")
                return
            }
            var seen = Set<String>()
            e.envNames = env.value.members.map(\.key).filter { ServerList.isVariableName($0) && seen.insert($0).inserted }
        }
        e.envFile = e.node["envFile"]?.string
        if let cwd = e.node["cwd"] {
            guard let s = cwd.string else {
                invalid("cwd", cwd, "expected a string, found \(cwd.kindName)")
                return
            }
            if !s.isEmpty { e.cwd = s }
        }
    }
}
