#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// An MCP host whose config file brig can read and rewrite.
public struct Host: Sendable, Equatable {
    /// Where the servers are in the file.
    public enum Layout: Sendable, Equatable {
        /// `{"mcpServers": {NAME: {"command", "args", "env"}}}`: Claude Desktop, Cursor, Windsurf, Cline,
        /// a Claude Code project's `.mcp.json`.
        case mcpServers
        /// `~/.claude.json`: `mcpServers` (user scope) and `projects.<path>.mcpServers` (local scope).
        case claudeCode
        /// `{"servers": {NAME: {"type": "stdio", ...}}, "inputs": [...]}`: VS Code's `mcp.json`.
        case vscode
        /// `{"context_servers": {NAME: {"command": "...", "args": [...]}}}` in Zed's settings, or the
        /// older `{"command": {"path", "args", "env"}}`.
        case zed
    }

    /// The directory the host starts a stdio server in.
    public enum StartDirectory: Sendable, Equatable {
        /// Always `/` (Claude Desktop, Cline).
        case root
        /// `/` until a worktree is open (Zed).
        case rootBeforeWorktree
        /// The workspace folder, else `$HOME` (VS Code); the entry's `cwd` when it names one.
        case workspaceOrHome
        /// The directory the host was launched in (Claude Code).
        case launchDirectory
        /// The entry's `cwd` when it names one, else not documented (Cursor, Windsurf).
        case cwdOrUnknown
    }

    /// A short identifier (`claude-desktop`, `vscode`, ...).
    public var id: String
    /// The host's name as users know it.
    public var name: String
    public var layout: Layout
    public var startDirectory: StartDirectory

    /// Whether the host starts a server in the entry's `cwd`. Where it does not, `brig wrap` turns
    /// `cwd` into `--workdir`.
    public var honorsCwd: Bool {
        switch startDirectory {
        case .workspaceOrHome, .cwdOrUnknown: return true
        case .root, .rootBeforeWorktree, .launchDirectory: return false
        }
    }

    /// Where the host starts a server that names no `cwd`, in words.
    public var startsAt: String {
        switch startDirectory {
        case .root: return "/"
        case .rootBeforeWorktree: return "/ until a worktree is open, then the worktree"
        case .workspaceOrHome: return "the workspace folder, else $HOME"
        case .launchDirectory: return "the directory it was launched in"
        case .cwdOrUnknown: return "a directory it does not document"
        }
    }

    public static let claudeDesktop = Host(id: "claude-desktop", name: "Claude Desktop", layout: .mcpServers, startDirectory: .root)
    public static let claudeCode = Host(id: "claude-code", name: "Claude Code", layout: .claudeCode, startDirectory: .launchDirectory)
    public static let claudeCodeProject = Host(
        id: "claude-code-project", name: "Claude Code (project)", layout: .mcpServers,
        startDirectory: .launchDirectory)
    public static let vscode = Host(id: "vscode", name: "VS Code", layout: .vscode, startDirectory: .workspaceOrHome)
    public static let vscodeWorkspace = Host(
        id: "vscode-workspace", name: "VS Code (workspace)", layout: .vscode,
        startDirectory: .workspaceOrHome)
    public static let cursor = Host(id: "cursor", name: "Cursor", layout: .mcpServers, startDirectory: .cwdOrUnknown)
    public static let cursorProject = Host(id: "cursor-project", name: "Cursor (project)", layout: .mcpServers, startDirectory: .cwdOrUnknown)
    public static let zed = Host(id: "zed", name: "Zed", layout: .zed, startDirectory: .rootBeforeWorktree)
    public static let zedProject = Host(id: "zed-project", name: "Zed (project)", layout: .zed, startDirectory: .rootBeforeWorktree)
    public static let windsurf = Host(id: "windsurf", name: "Windsurf", layout: .mcpServers, startDirectory: .cwdOrUnknown)
    public static let cline = Host(id: "cline", name: "Cline", layout: .mcpServers, startDirectory: .root)

    /// A file named with `--config`: its layout comes from its keys, its start directory is unknown.
    public static func custom(layout: Layout) -> Host {
        Host(id: "config", name: "config", layout: layout, startDirectory: .cwdOrUnknown)
    }

    /// The layout of a file named with `--config`, from its top-level keys.
    public static func layout(of root: JSONCNode) -> Layout? {
        if root["context_servers"] != nil { return .zed }
        if root["servers"] != nil { return .vscode }
        if root["projects"]?.isObject == true { return .claudeCode }
        if root["mcpServers"] != nil { return .mcpServers }
        return nil
    }
}

/// A config file of one host, found or named.
public struct HostConfigFile: Sendable, Equatable {
    public var host: Host
    /// The path as shown (absolute).
    public var path: String
    /// Where it was found: "user" or "project DIR", or "--config".
    public var scope: String

    public init(host: Host, path: String, scope: String) {
        self.host = host
        self.path = path
        self.scope = scope
    }
}

/// Where the hosts keep their configs on Linux.
public enum HostDiscovery {
    /// Every host config file under `home` and `project` (the current directory) that exists.
    ///
    /// - Parameters:
    ///   - home: `$HOME`.
    ///   - configHome: `$XDG_CONFIG_HOME`, else `$HOME/.config` (Claude Desktop, VS Code, Cline and Zed
    ///     are Electron or XDG applications and follow it).
    ///   - project: the directory whose project files (`.mcp.json`, `.vscode/mcp.json`,
    ///     `.cursor/mcp.json`, `.zed/settings.json`) are read; nil for none.
    public static func candidates(home: String, configHome: String?, project: String?) -> [HostConfigFile] {
        let config = (configHome?.hasPrefix("/") == true ? configHome! : home + "/.config")
        var files: [HostConfigFile] = [
            HostConfigFile(host: .claudeDesktop, path: config + "/Claude/claude_desktop_config.json", scope: "user"),
            HostConfigFile(host: .claudeCode, path: home + "/.claude.json", scope: "user"),
            HostConfigFile(host: .vscode, path: config + "/Code/User/mcp.json", scope: "user"),
            HostConfigFile(host: .cursor, path: home + "/.cursor/mcp.json", scope: "user"),
            HostConfigFile(host: .zed, path: config + "/zed/settings.json", scope: "user"),
            HostConfigFile(host: .windsurf, path: home + "/.codeium/windsurf/mcp_config.json", scope: "user"),
            HostConfigFile(
                host: .cline, path: config + "/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                scope: "user"),
        ]
        if let project, project != home, project != "/" {
            let p = project.hasSuffix("/") ? String(project.dropLast()) : project
            files += [
                HostConfigFile(host: .claudeCodeProject, path: p + "/.mcp.json", scope: "project " + p),
                HostConfigFile(host: .vscodeWorkspace, path: p + "/.vscode/mcp.json", scope: "project " + p),
                HostConfigFile(host: .cursorProject, path: p + "/.cursor/mcp.json", scope: "project " + p),
                HostConfigFile(host: .zedProject, path: p + "/.zed/settings.json", scope: "project " + p),
            ]
        }
        return files
    }

    /// The candidates that exist as files.
    public static func discover(home: String, configHome: String?, project: String?) -> [HostConfigFile] {
        candidates(home: home, configHome: configHome, project: project).filter { file in
            var st = stat()
            return stat(file.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
        }
    }
}
