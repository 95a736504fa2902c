import Testing

@testable import BrigHostConfig

/// Wraps every stdio entry of `source` (laid out as `layout`) and returns the new text and plans.
func wrapAll(
    _ source: String, layout: Host.Layout = .mcpServers, host: Host = .claudeDesktop, profile: String? = nil,
    workdir: String? = nil
) throws -> (String, [WrapPlan]) {
    let doc = try document(source)
    let plans = try ServerList.entries(in: doc, layout: layout).filter { $0.transport == .stdio }.map {
        try Wrapping.wrap($0, in: doc, host: host, brig: "/usr/bin/brig", profile: profile, workdir: workdir, home: "/home/me")
    }
    return (text(Wrapping.apply(plans.map(\.edit), to: doc.bytes)), plans)
}

/// Unwraps every wrapped entry of `source` with the records `plans` made.
func unwrapAll(_ source: String, layout: Host.Layout = .mcpServers, records: [String: (String, String)]) throws -> (String, [UnwrapPlan]) {
    let doc = try document(source)
    let plans = try ServerList.entries(in: doc, layout: layout).filter { $0.isWrapped(brigCommands: ["/usr/bin/brig"]) }.map {
        try Wrapping.unwrap($0, in: doc, recorded: records[$0.pointer].map { (original: $0.0, wrapped: $0.1) })
    }
    return (text(Wrapping.apply(plans.map(\.edit), to: doc.bytes)), plans)
}

@Suite("brig wrap and unwrap edits")
struct WrappingTests {
    @Test(
        "profiles follow the command",
        arguments: [
            ("uvx", "python"), ("/usr/bin/python3", "python"), ("python3.12", "python"), ("pip", "python"), ("uv", "python"),
            ("npx", "node"), ("/opt/node/bin/node", "node"), ("docker", "default"), ("./server", "default"), ("pythonic", "default"),
        ])
    func profileChoice(command: String, profile: String) {
        #expect(Wrapping.profile(for: command) == profile)
    }

    @Test("a one-line args array stays on one line; only command and args change")
    func singleLine() throws {
        let src = """
            {
              "mcpServers": {
                "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}}
              },
              "theme": "dark"
            }
            """
        let (out, plans) = try wrapAll(src)
        #expect(
            out == """
                {
                  "mcpServers": {
                    "time": {"command": "/usr/bin/brig", "args": ["--profile", "python", "--env", "TZ", "--", "uvx", "mcp-server-time"], "env": {"TZ": "UTC"}}
                  },
                  "theme": "dark"
                }
                """)
        #expect(plans[0].profile == "python")
        #expect(plans[0].notes.contains("its env (TZ) passed to the server with --env"))
    }

    @Test("the variables of env (either Zed layout) are passed with --env; odd names are not")
    func envPassed() throws {
        let (out, _) = try wrapAll("{\"mcpServers\": {\"t\": {\"command\": \"x\", \"env\": {\"API_KEY\": \"k\", \"bad name\": \"v\", \"_B2\": \"\"}}}}")
        #expect(out.contains("[\"--profile\", \"default\", \"--env\", \"API_KEY\", \"--env\", \"_B2\", \"--\", \"x\"]"))
        let zed = "{\"context_servers\": {\"o\": {\"command\": {\"path\": \"npx\", \"args\": [], \"env\": {\"BRAVE_API_KEY\": \"x\"}}}}}"
        let (zout, _) = try wrapAll(zed, layout: .zed, host: .zed)
        #expect(zout.contains("[\"--profile\", \"node\", \"--env\", \"BRAVE_API_KEY\", \"--\", \"npx\"]"))
    }

    @Test("a multi-line args array keeps its indentation and the file's CRLF")
    func multiLineCRLF() throws {
        let src =
            "{\r\n\t\"mcpServers\": {\r\n\t\t\"fs\": {\r\n\t\t\t\"command\": \"npx\",\r\n\t\t\t\"args\": [\r\n\t\t\t\t\"-y\",\r\n\t\t\t\t\"@x/fs\"\r\n\t\t\t]\r\n\t\t}\r\n\t}\r\n}\r\n"
        let (out, _) = try wrapAll(src)
        #expect(
            out == "{\r\n\t\"mcpServers\": {\r\n\t\t\"fs\": {\r\n\t\t\t\"command\": \"/usr/bin/brig\",\r\n\t\t\t\"args\": [\r\n"
                + "\t\t\t\t\"--profile\",\r\n\t\t\t\t\"node\",\r\n\t\t\t\t\"--\",\r\n\t\t\t\t\"npx\",\r\n\t\t\t\t\"-y\",\r\n\t\t\t\t\"@x/fs\"\r\n\t\t\t]\r\n\t\t}\r\n\t}\r\n}\r\n")
    }

    @Test("no args: one member is inserted after command, on its own line when command has one")
    func insertedArgs() throws {
        let src = "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"./srv\",\n      \"env\": {}\n    },\n    \"b\": { \"command\":\"x\" }\n  }\n}\n"
        let (out, _) = try wrapAll(src)
        #expect(
            out == "{\n  \"mcpServers\": {\n    \"a\": {\n      \"command\": \"/usr/bin/brig\",\n      \"args\": [\"--profile\", \"default\", \"--\", \"./srv\"],\n"
                + "      \"env\": {}\n    },\n    \"b\": { \"command\":\"/usr/bin/brig\", \"args\":[\"--profile\", \"default\", \"--\", \"x\"] }\n  }\n}\n")
    }

    @Test("args before command, and comments between them, are kept")
    func argsFirst() throws {
        let src = "{\"mcpServers\": {\"t\": {\"args\": [\"a b\"], /* why */ \"command\": \"uvx\"}}}"
        let (out, _) = try wrapAll(src, profile: "strict")
        #expect(out == "{\"mcpServers\": {\"t\": {\"args\": [\"--profile\", \"strict\", \"--\", \"uvx\", \"a b\"], /* why */ \"command\": \"/usr/bin/brig\"}}}")
    }

    @Test("cwd becomes --workdir where the host ignores it, and not where it honors it")
    func cwdToWorkdir() throws {
        let src = "{\"mcpServers\": {\"g\": {\"command\": \"uvx\", \"args\": [], \"cwd\": \"~/proj\"}}}"
        let (desktop, dplans) = try wrapAll(src, host: .claudeDesktop)
        #expect(desktop.contains("[\"--profile\", \"python\", \"--workdir\", \"/home/me/proj\", \"--\", \"uvx\"]"))
        #expect(dplans[0].notes.contains { $0.contains("--workdir /home/me/proj added from the entry's cwd") })
        let vsrc = "{\"servers\": {\"g\": {\"type\": \"stdio\", \"command\": \"uvx\", \"args\": [], \"cwd\": \"${workspaceFolder}\"}}}"
        let (vscode, vplans) = try wrapAll(vsrc, layout: .vscode, host: .vscode)
        #expect(!vscode.contains("--workdir"))
        #expect(vplans[0].notes.contains { $0.contains("starts it in its cwd") })
    }

    @Test("Zed: the newer flat entry and the older command object are both wrapped; extensions and URLs are not")
    func zedLayouts() throws {
        let src = """
            {
              "context_servers": {
                "new": {"source": "custom", "command": "uvx", "args": ["x"], "env": {}},
                "old": {"command": {"path": "npx", "args": ["-y", "y"], "env": {}}, "settings": {}},
                "ext": {"source": "extension", "settings": {}},
                "remote": {"url": "https://example.com/mcp"},
              },
            }
            """
        let doc = try document(src)
        let entries = ServerList.entries(in: doc, layout: .zed)
        #expect(entries.map(\.transport) == [.stdio, .stdio, .other("a Zed extension's server (Zed starts it itself)"), .remote("https://example.com/mcp")])
        let (out, _) = try wrapAll(src, layout: .zed, host: .zed)
        #expect(out.contains("\"new\": {\"source\": \"custom\", \"command\": \"/usr/bin/brig\", \"args\": [\"--profile\", \"python\", \"--\", \"uvx\", \"x\"], \"env\": {}}"))
        #expect(out.contains("\"old\": {\"command\": {\"path\": \"/usr/bin/brig\", \"args\": [\"--profile\", \"node\", \"--\", \"npx\", \"-y\", \"y\"], \"env\": {}}"))
        let again = ServerList.entries(in: try document(out), layout: .zed)
        #expect(again[1].isWrapped(brigCommands: []) && again[1].wrappedCommandLine?.server == ["npx", "-y", "y"])
    }

    @Test("unwrap with the record restores byte for byte, even after edits elsewhere in the file")
    func exactUnwrap() throws {
        let src = "{\n  // keep me\n  \"mcpServers\": {\n    \"t\": {\n      \"command\": \"uvx\",\n      \"args\": [ \"a\",\"b\" ], // note\n    },\n  },\n}\n"
        let (wrapped, plans) = try wrapAll(src)
        let records = ["/mcpServers/t": (plans[0].edit.original, plans[0].edit.replacement)]
        let (back, uplans) = try unwrapAll(wrapped, records: records)
        #expect(back == src)
        #expect(uplans[0].exact)
        // The user edits another part of the file meanwhile: that edit stays, the entry comes back.
        let edited = wrapped.replacing("// keep me", with: "// changed by the user\n  \"theme\": \"light\",")
        let (back2, _) = try unwrapAll(edited, records: records)
        #expect(back2 == src.replacing("// keep me", with: "// changed by the user\n  \"theme\": \"light\","))
    }

    @Test("unwrap without a record, or after the entry was edited, rebuilds command and args from after --")
    func rebuiltUnwrap() throws {
        let src = "{\"mcpServers\": {\"t\": {\"command\": \"brig\", \"args\": [\"--profile\", \"node\", \"--rw\", \"/d\", \"--\", \"npx\", \"-y\", \"p\"]}}}"
        let doc = try document(src)
        let e = try #require(ServerList.entries(in: doc, layout: .mcpServers).first)
        let plan = try Wrapping.unwrap(e, in: doc, recorded: nil)
        #expect(!plan.exact)
        #expect(text(Wrapping.apply([plan.edit], to: doc.bytes)) == "{\"mcpServers\": {\"t\": {\"command\": \"npx\", \"args\": [\"-y\", \"p\"]}}}")
        let stale = try Wrapping.unwrap(e, in: doc, recorded: (original: "\"x\"", wrapped: "\"not what is there\""))
        #expect(!stale.exact)
        #expect(throws: WrapRefusal.self) {
            let bad = try document("{\"mcpServers\": {\"t\": {\"command\": \"brig\", \"args\": [\"--profile\", \"node\"]}}}")
            _ = try Wrapping.unwrap(try #require(ServerList.entries(in: bad, layout: .mcpServers).first), in: bad, recorded: nil)
        }
    }

    @Test("a wrapped entry reads as wrapped, so a second wrap has nothing to do")
    func idempotent() throws {
        let (once, _) = try wrapAll("{\"mcpServers\": {\"t\": {\"command\": \"uvx\", \"args\": [\"s\"]}}}")
        let entries = ServerList.entries(in: try document(once), layout: .mcpServers)
        #expect(entries.allSatisfy { $0.isWrapped(brigCommands: ["/usr/bin/brig"]) })
        #expect(entries[0].wrappedCommandLine?.options == ["--profile", "python"])
    }

    @Test("strings with quotes, backslashes and unicode are escaped in args and survive a round trip")
    func escaping() throws {
        let src = "{\"mcpServers\": {\"t\": {\"command\": \"/opt/my \\\"srv\\\"\", \"args\": [\"C:\\\\x\", \"né\\n\"]}}}"
        let (out, _) = try wrapAll(src)
        let e = try #require(ServerList.entries(in: try document(out), layout: .mcpServers).first)
        #expect(e.wrappedCommandLine?.server == ["/opt/my \"srv\"", "C:\\x", "né\n"])
    }
}

@Suite("server entries of each host layout")
struct ServerListTests {
    @Test("VS Code: type http/sse are remote, stdio entries carry cwd; inputs are left alone")
    func vscode() throws {
        let src = """
            {
              "inputs": [{"type": "promptString", "id": "key"}],
              "servers": {
                "a": {"type": "stdio", "command": "npx", "args": ["-y", "p"], "cwd": "${workspaceFolder}"},
                "b": {"type": "http", "url": "https://x/mcp"},
                "c": {"type": "sse", "url": "https://y/sse"},
              }
            }
            """
        let entries = ServerList.entries(in: try document(src), layout: .vscode)
        #expect(entries.map(\.name) == ["a", "b", "c"])
        #expect(entries[0].cwd == "${workspaceFolder}")
        #expect(entries[1].transport == .remote("http https://x/mcp"))
        #expect(entries[2].transport == .remote("sse https://y/sse"))
    }

    @Test("Claude Code: user servers and each project's, with pointers that name the project")
    func claudeCode() throws {
        let src = """
            {"numStartups": 3, "mcpServers": {"u": {"type": "stdio", "command": "uvx", "args": []}},
             "projects": {"/home/me/p": {"mcpServers": {"l": {"command": "node", "args": ["s.js"]}}, "allowedTools": []},
                          "/home/me/q": {"mcpServers": {"h": {"type": "http", "url": "https://z"}}}}}
            """
        let entries = ServerList.entries(in: try document(src), layout: .claudeCode)
        #expect(entries.map(\.pointer) == ["/mcpServers/u", "/projects/~1home~1me~1p/mcpServers/l", "/projects/~1home~1me~1q/mcpServers/h"])
        #expect(entries[1].project == "/home/me/p")
        #expect(entries[1].keyPath == "projects.\"/home/me/p\".mcpServers.l")
        #expect(entries[2].transport == .remote("http https://z"))
    }

    @Test("a key of the wrong type names the key and its line")
    func invalidEntry() throws {
        let src = "{\n  \"mcpServers\": {\n    \"t\": {\n      \"command\": \"x\",\n      \"args\": \"--flag\"\n    }\n  }\n}"
        let entries = ServerList.entries(in: try document(src), layout: .mcpServers)
        #expect(entries[0].transport == .invalid(key: "mcpServers.t.args", line: 5, message: "expected an array of strings"))
        let empty = ServerList.entries(in: try document("{\"mcpServers\": {\"e\": {\"command\": \"\"}}}"), layout: .mcpServers)
        #expect(empty[0].transport == .invalid(key: "mcpServers.e.command", line: 1, message: "an empty command"))
        let notObject = ServerList.problems(in: try document("{\n\"mcpServers\": []}"), layout: .mcpServers)
        #expect(notObject.first?.line == 2)
    }
}

@Suite("the diff shown before writing")
struct LineDiffTests {
    @Test("one hunk per entry, with context and line numbers in the old and the new file")
    func hunks() throws {
        var lines = (1...20).map { "  \"k\($0)\": \($0)," }
        lines[2] = "  \"a\": {\"command\": \"uvx\"},"
        lines[15] = "  \"b\": {\"command\": \"npx\"},"
        let src = "{\n" + lines.joined(separator: "\n") + "\n  \"z\": 0\n}\n"
        let doc = try document(src)
        let a = try #require(doc.root["a"]?["command"]), b = try #require(doc.root["b"]?["command"])
        let edits = [
            TextEdit(range: a.range, original: "\"uvx\"", replacement: "\"brig\",\n  \"extra\": 1"),
            TextEdit(range: b.range, original: "\"npx\"", replacement: "\"brig\""),
        ]
        let diff = LineDiff.render(path: "f.json", old: doc.bytes, edits: edits, label: "wrapped", context: 1)
        #expect(
            diff == """
                --- f.json
                +++ f.json (wrapped)
                @@ -3,3 +3,4 @@
                   "k2": 2,
                -  "a": {"command": "uvx"},
                +  "a": {"command": "brig",
                +  "extra": 1},
                   "k4": 4,
                @@ -16,3 +17,3 @@
                   "k15": 15,
                -  "b": {"command": "npx"},
                +  "b": {"command": "brig"},
                   "k17": 17,

                """)
    }
}

@Suite("records, backups and atomic writes")
struct WrapStoreTests {
    @Test("records round-trip through their file; an empty list removes it")
    func records() throws {
        let dir = try Scratch()
        let store = WrapStore(stateDirectory: dir.path)
        let r = [WrapRecord(pointer: "/mcpServers/a~1b", original: "\"uvx\",\n\t\"args\": [\"é\\\"\"]", wrapped: "\"brig\"")]
        try store.save(r, for: "/home/me/.claude.json")
        #expect(try store.records(for: "/home/me/.claude.json") == r)
        #expect(try store.records(for: "/elsewhere.json").isEmpty)
        try store.save([], for: "/home/me/.claude.json")
        #expect(try store.records(for: "/home/me/.claude.json").isEmpty)
    }

    @Test("an atomic write keeps the file's mode, and refuses when the file changed meanwhile")
    func atomicWrite() throws {
        let dir = try Scratch()
        let path = dir.path + "/c.json"
        try FileIO.writeAtomically(path, Array("{}".utf8), mode: 0o640, expecting: nil)
        #expect(dir.mode(path) == 0o640)
        try FileIO.writeAtomically(path, Array("{\"a\": 1}".utf8), mode: 0o600, expecting: Array("{}".utf8))
        #expect(dir.mode(path) == 0o640)
        #expect(text(try FileIO.read(path)) == "{\"a\": 1}")
        #expect(throws: HostConfigError.self) {
            try FileIO.writeAtomically(path, Array("{}".utf8), mode: 0o600, expecting: Array("{\"old\": 1}".utf8))
        }
        #expect(text(try FileIO.read(path)) == "{\"a\": 1}")
        let backup = try WrapStore(stateDirectory: dir.path).backup(Array("x".utf8), of: path)
        #expect(text(try FileIO.read(backup)) == "x")
        #expect(dir.mode(backup) == 0o600)
    }
}

@Suite("where the hosts keep their configs")
struct DiscoveryTests {
    @Test("the Linux paths, under $XDG_CONFIG_HOME when set, with the project's own files")
    func paths() {
        let files = HostDiscovery.candidates(home: "/home/me", configHome: nil, project: "/home/me/p")
        let byHost = Dictionary(files.map { ($0.host.id, $0.path) }, uniquingKeysWith: { a, _ in a })
        #expect(byHost["claude-desktop"] == "/home/me/.config/Claude/claude_desktop_config.json")
        #expect(byHost["claude-code"] == "/home/me/.claude.json")
        #expect(byHost["claude-code-project"] == "/home/me/p/.mcp.json")
        #expect(byHost["vscode"] == "/home/me/.config/Code/User/mcp.json")
        #expect(byHost["vscode-workspace"] == "/home/me/p/.vscode/mcp.json")
        #expect(byHost["cursor"] == "/home/me/.cursor/mcp.json")
        #expect(byHost["cursor-project"] == "/home/me/p/.cursor/mcp.json")
        #expect(byHost["zed"] == "/home/me/.config/zed/settings.json")
        #expect(byHost["zed-project"] == "/home/me/p/.zed/settings.json")
        #expect(byHost["windsurf"] == "/home/me/.codeium/windsurf/mcp_config.json")
        #expect(byHost["cline"] == "/home/me/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json")
        let xdg = HostDiscovery.candidates(home: "/home/me", configHome: "/xdg", project: "/home/me")
        #expect(xdg.first { $0.host == .claudeDesktop }?.path == "/xdg/Claude/claude_desktop_config.json")
        #expect(!xdg.contains { $0.scope.hasPrefix("project") })  // $HOME is not a project
    }

    @Test(
        "a --config file's layout comes from its keys",
        arguments: [
            ("{\"context_servers\": {}}", Host.Layout.zed), ("{\"servers\": {}, \"inputs\": []}", .vscode),
            ("{\"projects\": {}, \"mcpServers\": {}}", .claudeCode), ("{\"mcpServers\": {}}", .mcpServers),
        ])
    func layouts(source: String, layout: Host.Layout) throws {
        #expect(Host.layout(of: try document(source).root) == layout)
    }

    @Test("hosts that start servers at / or ignore cwd get --workdir from it; the others do not")
    func honorsCwd() {
        #expect(!Host.claudeDesktop.honorsCwd && !Host.cline.honorsCwd && !Host.zed.honorsCwd && !Host.claudeCode.honorsCwd)
        #expect(Host.vscode.honorsCwd && Host.cursor.honorsCwd && Host.windsurf.honorsCwd)
    }
}
