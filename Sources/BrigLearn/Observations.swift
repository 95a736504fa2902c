public import BrigEgress
public import BrigJSONRPC
import BrigSystem
import Synchronization

/// What a watched session used: files, network, system calls, MCP methods and tools. Filled by
/// the syscall watcher and the relay's observer (two threads), read once at the end.
public final class Observations: Sendable {
    public struct FileUse: Sendable, Equatable {
        public var read = false
        public var write = false
        public var exec = false
        public var count = 0
        public var firstSyscall = ""
        public var firstAt: UInt64 = 0
    }

    public struct NetworkUse: Sendable, Hashable {
        public var family: String  // inet, inet6, unix
        public var kind: String  // connect, bind
        public var port: UInt16
        public var address: String
    }

    /// A host the server reached through the egress proxy, as it named it.
    public struct HostUse: Sendable, Hashable {
        public var host: String
        public var port: UInt16
    }

    public struct ToolUse: Sendable {
        public var count = 0
        /// Each argument's values seen (strings only; others by type name).
        public var arguments: [String: [JSONValue]] = [:]
    }

    struct State {
        var files: [String: FileUse] = [:]
        var network: [NetworkUse: Int] = [:]
        var hosts: [HostUse: Int] = [:]
        var socketFamilies: [Int: Int] = [:]
        var syscalls: [String: Int] = [:]
        var methods: [String: Int] = [:]
        var tools: [String: ToolUse] = [:]
        var start: UInt64 = MonotonicClock.nanoseconds()
    }

    let state = Mutex(State())

    public init() {}

    func file(_ path: String, read: Bool = false, write: Bool = false, exec: Bool = false, syscall: String) {
        state.withLock { s in
            var use = s.files[path] ?? FileUse()
            if use.count == 0 {
                use.firstSyscall = syscall
                use.firstAt = MonotonicClock.nanoseconds() - s.start
            }
            use.read = use.read || read
            use.write = use.write || write
            use.exec = use.exec || exec
            use.count += 1
            s.files[path] = use
        }
    }

    func network(_ use: NetworkUse) {
        state.withLock { $0.network[use, default: 0] += 1 }
    }

    /// A connection the egress proxy handled (learn mode lets every one through).
    /// A name that resolved to a private address (a service on the local network, or the host's
    /// own) is refused under `brig run` unless the address is named too: it is recorded as well.
    public func connection(_ c: EgressConnection) {
        state.withLock { s in
            s.hosts[HostUse(host: c.host, port: c.port), default: 0] += 1
            if let a = c.address, a.specialRange?.isLocal == true, a.description != c.host {
                s.hosts[HostUse(host: a.description, port: c.port), default: 0] += 1
            }
        }
    }

    func socket(family: Int) {
        state.withLock { $0.socketFamilies[family, default: 0] += 1 }
    }

    func syscall(_ name: String) {
        state.withLock { $0.syscalls[name, default: 0] += 1 }
    }

    /// The relay's observer: methods in both directions, tools and their arguments.
    public func message(_ view: MessageView, line: UnsafeBufferPointer<UInt8>, direction: Direction) {
        let members = view.kind == .batch ? view.members : [view]
        for m in members where m.kind == .request || m.kind == .notification {
            guard let method = m.method else { continue }
            var toolName: String?
            var arguments: [(String, JSONValue)] = []
            if method == MCPMethod.toolsCall, direction == .hostToServer, let range = m.params,
                let params = try? JSONValue.parse(line, range: range)
            {
                toolName = params["name"]?.stringValue
                arguments = params["arguments"]?.objectValue ?? []
            }
            state.withLock { s in
                s.methods["\(direction.rawValue) \(method)", default: 0] += 1
                if let toolName {
                    var use = s.tools[toolName] ?? ToolUse()
                    use.count += 1
                    for (name, value) in arguments where (use.arguments[name]?.count ?? 0) < 64 {
                        use.arguments[name, default: []].append(value)
                    }
                    s.tools[toolName] = use
                }
            }
        }
    }

    public var files: [String: FileUse] { state.withLock { $0.files } }
    public var networkUses: [NetworkUse: Int] { state.withLock { $0.network } }
    public var hosts: [HostUse: Int] { state.withLock { $0.hosts } }
    public var socketFamilies: [Int: Int] { state.withLock { $0.socketFamilies } }
    public var syscalls: [String: Int] { state.withLock { $0.syscalls } }
    public var methods: [String: Int] { state.withLock { $0.methods } }
    public var tools: [String: ToolUse] { state.withLock { $0.tools } }
}
