import BrigSystem

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a command needs to start, found by looking at it: the resolved executable (and the file
/// a symlink points to), the interpreter named by a script's `#!` line (through `/usr/bin/env`),
/// a Python virtual environment's root and its base interpreter's prefix, a pyenv root behind a
/// shim, the `node_modules` tree a script lives in, and the script an interpreter is given.
///
/// This is why a server installed anywhere (a venv in a home directory, pyenv, ~/.local,
/// node_modules) runs under `default` without hand-written grants. Nothing here ever grants `/`
/// or a home directory as a whole.
public struct CommandGrants: Sendable {
    public struct Grant: Sendable, Equatable {
        public var path: String
        public var exec: Bool
        public var reason: String
    }

    public private(set) var grants: [Grant] = []
    private let home: String
    private let searchPath: String?

    /// Interpreters whose first argument, when it is a file, is the program.
    static let interpreters = [
        "python", "python3", "node", "nodejs", "bash", "sh", "dash", "zsh", "ruby", "perl", "bun",
        "deno", "php", "lua",
    ]

    public init(executable: String, arguments: [String], home: String, searchPath: String?, workingDirectory: String) {
        self.home = home
        self.searchPath = searchPath
        examine(executable, reason: "the command", depth: 0)
        let base = executable.lastComponent
        if CommandGrants.interpreters.contains(where: { base == $0 || base.hasPrefix($0 + ".") || base.hasPrefix($0 + "3.") }),
            let script = arguments.dropFirst().first(where: { !$0.hasPrefix("-") })
        {
            let path = script.hasPrefix("/") ? script : workingDirectory + "/" + script
            if FileSystem.isRegularFile(path) {
                let dir = FileSystem.parent(of: FileSystem.realpath(path))
                if isSafeToGrant(dir) {
                    add(dir, exec: false, "the directory of the script \(script)")
                } else {
                    add(FileSystem.realpath(path), exec: false, "the script \(script)")
                }
            }
        }
    }

    private mutating func add(_ path: String, exec: Bool, _ reason: String) {
        if let i = grants.firstIndex(where: { $0.path == path }) {
            if exec && !grants[i].exec { grants[i].exec = true }
            return
        }
        grants.append(Grant(path: path, exec: exec, reason: reason))
    }

    private mutating func examine(_ executable: String, reason: String, depth: Int) {
        guard depth < 4 else { return }
        add(executable, exec: true, reason)
        let real = FileSystem.realpath(executable)
        if real != executable { add(real, exec: true, "\(reason), resolved") }
        if let loader = ELF.interpreter(of: real) {
            add(loader, exec: true, "the program interpreter (dynamic loader) of \(real)")
            let realLoader = FileSystem.realpath(loader)
            if realLoader != loader { add(realLoader, exec: true, "the program interpreter of \(real), resolved") }
        }

        // pyenv shims: the shim runs `pyenv exec` from the pyenv root.
        let dir = FileSystem.parent(of: executable)
        if dir.hasSuffix("/shims"), FileSystem.isDirectory(FileSystem.parent(of: dir) + "/versions") {
            add(FileSystem.parent(of: dir), exec: true, "the pyenv root behind the shim \(executable)")
        }
        // A prefix with bin/: a venv, an interpreter's installation, ~/.local.
        for candidate in [executable, real] {
            let binDir = FileSystem.parent(of: candidate)
            guard binDir.hasSuffix("/bin") else { continue }
            let prefix = FileSystem.parent(of: binDir)
            if FileSystem.isRegularFile(prefix + "/pyvenv.cfg") {
                add(prefix, exec: true, "the virtual environment of \(candidate)")
                if let home = pyvenvHome(prefix + "/pyvenv.cfg") {
                    let basePrefix = home.hasSuffix("/bin") ? FileSystem.parent(of: home) : home
                    if isSafeToGrant(basePrefix) { add(basePrefix, exec: true, "the base interpreter of the virtual environment \(prefix)") }
                }
            } else if isSafeToGrant(prefix) && (depth > 0 || isInterpreterName(candidate)) {
                add(prefix, exec: true, "the installation of \(candidate)")
            }
        }
        // node_modules: the whole tree the script belongs to.
        if let tree = nodeModulesRoot(real) {
            add(tree, exec: false, "the node_modules of \(executable)")
        }
        // A script: its interpreter.
        if let (interpreter, argument) = shebang(real) {
            if interpreter.hasSuffix("/env"), let argument {
                add(interpreter, exec: true, "the interpreter of \(executable)")
                let name = argument.split(separator: " ").first(where: { !$0.hasPrefix("-") }).map(String.init) ?? argument
                if let resolved = lookup(name) { examine(resolved, reason: "the interpreter of \(executable)", depth: depth + 1) }
            } else {
                examine(interpreter, reason: "the interpreter of \(executable)", depth: depth + 1)
            }
        }
    }

    private func isInterpreterName(_ path: String) -> Bool {
        let base = path.lastComponent
        return CommandGrants.interpreters.contains(where: { base == $0 || base.hasPrefix($0 + ".") || base.hasPrefix($0 + "3") })
    }

    /// Never `/`, a top-level directory, or a home directory as a whole.
    private func isSafeToGrant(_ path: String) -> Bool {
        let depth = path.split(separator: "/").count
        return depth >= 2 && path != home && path != "/root" && path != "/home" && !path.hasPrefix("/proc")
    }

    private func lookup(_ name: String) -> String? {
        for dir in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 && FileSystem.isRegularFile(candidate) { return candidate }
        }
        return nil
    }

    private func shebang(_ path: String) -> (String, String?)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 256)
        let n = read(fd, &buf, buf.count)
        guard n > 2, buf[0] == UInt8(ascii: "#"), buf[1] == UInt8(ascii: "!") else { return nil }
        let line = buf[2..<n].prefix { $0 != 0x0A }
        let text = String(decoding: line, as: UTF8.self).trimmingWhitespace
        guard let space = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return text.isEmpty ? nil : (text, nil) }
        return (String(text[..<space]), String(text[space...]).trimmingWhitespace)
    }

    private func pyvenvHome(_ cfg: String) -> String? {
        let fd = open(cfg, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return nil }
        for line in String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingWhitespace == "home" {
                return String(parts[1]).trimmingWhitespace
            }
        }
        return nil
    }
}

/// The outermost `.../node_modules` directory in `path`, if any.
func nodeModulesRoot(_ path: String) -> String? {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    guard let i = parts.firstIndex(of: "node_modules") else { return nil }
    return parts[...i].joined(separator: "/")
}

/// Path helpers without Foundation.
extension String {
    var lastComponent: String { split(separator: "/").last.map(String.init) ?? self }
}

/// ELF facts the sandbox needs: the program interpreter (`PT_INTERP`, the dynamic loader) must
/// be executable under Landlock too, since the kernel executes it on the program's behalf.
public enum ELF {
    /// The PT_INTERP path of a 64-bit little-endian ELF file, or nil.
    public static func interpreter(of path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 64)
        guard pread(fd, &header, 64, 0) == 64, header[0] == 0x7F, header[1] == 0x45, header[2] == 0x4C, header[3] == 0x46,
            header[4] == 2, header[5] == 1
        else { return nil }
        func u16(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u64(_ b: [UInt8], _ o: Int) -> Int { (0..<8).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } }
        let phoff = u64(header, 32), phentsize = u16(header, 54), phnum = u16(header, 56)
        guard phentsize >= 56, phnum < 256 else { return nil }
        for i in 0..<phnum {
            var ph = [UInt8](repeating: 0, count: 56)
            guard pread(fd, &ph, 56, off_t(phoff + i * phentsize)) == 56 else { return nil }
            guard ph[0] == 3, ph[1] == 0, ph[2] == 0, ph[3] == 0 else { continue }  // PT_INTERP
            let offset = u64(ph, 8), size = u64(ph, 32)
            guard size > 1, size < 4096 else { return nil }
            var buf = [UInt8](repeating: 0, count: size)
            guard pread(fd, &buf, size, off_t(offset)) == size else { return nil }
            return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
        }
        return nil
    }
}
