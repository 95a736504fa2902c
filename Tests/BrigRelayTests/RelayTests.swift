import BrigJSONRPC
import BrigSystem
import Synchronization
import Testing

@testable import BrigRelay

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Drives `Relay.pump` over real pipes: what the host writes, what the server receives, what
/// the host gets back.
@Suite("Relay")
struct RelayTests {
    private struct Pipes {
        var hostIn: (read: Int32, write: Int32)
        var serverIn: (read: Int32, write: Int32)
        var hostOut: (read: Int32, write: Int32)
    }

    private func makePipe() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        return (fds[0], fds[1])
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    /// Pumps `input` host-to-server; returns (bytes the server got, bytes the host got back).
    private func pumpHostToServer(_ input: [UInt8], configure: (inout RelayConfiguration) -> Void = { _ in }) -> ([UInt8], [UInt8]) {
        let hostIn = makePipe(), serverIn = makePipe(), hostOut = makePipe()
        var configuration = RelayConfiguration()
        configure(&configuration)
        let relay = Relay(
            configuration: configuration, toHost: OutputChannel(fd: hostOut.write),
            toServer: OutputChannel(fd: serverIn.write), diagnostics: Diagnostics(perSecond: 0, burst: 0))
        // Writer thread: the host's input may exceed a pipe buffer.
        let writer = TestThread {
            input.withUnsafeBytes { _ = FileSystem.writeAll(hostIn.write, $0) }; close(hostIn.write)
        }
        let serverBytes = Mutex<[UInt8]>([])
        let fd = serverIn.read
        let reader = TestThread {
            let b = RelayTests.readAll(fd); serverBytes.withLock { $0 = b }
        }
        relay.pump(from: hostIn.read, direction: .hostToServer)
        relay.toServer.close()
        relay.toHost.close()
        writer.join()
        reader.join()
        let hostBytes = RelayTests.readAll(hostOut.read)
        for fd in [hostIn.read, serverIn.read, hostOut.read] { close(fd) }
        return (serverBytes.withLock { $0 }, hostBytes)
    }

    @Test("valid messages pass byte for byte, whitespace and key order included")
    func passthrough() {
        let text = "{ \"method\" : \"ping\",\"jsonrpc\":\"2.0\",  \"id\":1 }\n[{\"jsonrpc\":\"2.0\",\"method\":\"n\"}]\n"
        let (server, host) = pumpHostToServer(Array(text.utf8))
        #expect(server == Array(text.utf8))
        #expect(host.isEmpty)
    }

    @Test("bad lines are answered to the host and never reach the server")
    func rejects() {
        let text = "oops\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ok\"}\n{\"jsonrpc\":\"2.0\",\"id\":3}\n"
        let (server, host) = pumpHostToServer(Array(text.utf8))
        #expect(String(decoding: server, as: UTF8.self) == "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ok\"}\n")
        let answers = String(decoding: host, as: UTF8.self).split(separator: "\n")
        #expect(answers.count == 2)
        #expect(answers[0].contains("\"id\":null") && answers[0].contains("-32700"))
        #expect(answers[1].contains("\"id\":3") && answers[1].contains("-32600"))
    }

    @Test("an oversized line is refused with its id; the next line still passes")
    func oversized() {
        let big = "{\"jsonrpc\":\"2.0\",\"id\":\"big\",\"method\":\"x\",\"params\":{\"p\":\"" + String(repeating: "a", count: 5000) + "\"}}\n"
        let (server, host) = pumpHostToServer(Array((big + "{\"jsonrpc\":\"2.0\",\"method\":\"after\"}\n").utf8)) {
            $0.maximumMessageBytes = 1024
        }
        #expect(String(decoding: server, as: UTF8.self) == "{\"jsonrpc\":\"2.0\",\"method\":\"after\"}\n")
        let answer = String(decoding: host, as: UTF8.self)
        #expect(answer.contains("\"id\":\"big\"") && answer.contains("-32600"))
    }

    @Test("many pipelined messages, large ones included, arrive complete and in order")
    func volume() {
        var text = ""
        for i in 0..<5000 { text += "{\"jsonrpc\":\"2.0\",\"id\":\(i),\"method\":\"m\"}\n" }
        text += "{\"jsonrpc\":\"2.0\",\"id\":\"L\",\"method\":\"m\",\"params\":{\"s\":\"" + String(repeating: "z", count: 300_000) + "\"}}\n"
        let (server, _) = pumpHostToServer(Array(text.utf8))
        #expect(server.count == text.utf8.count)
        #expect(server == Array(text.utf8))
    }

    @Test("requests are tracked in flight and responses retire them")
    func tracking() {
        let hostIn = makePipe(), serverIn = makePipe(), hostOut = makePipe(), serverOut = makePipe()
        let relay = Relay(
            configuration: RelayConfiguration(), toHost: OutputChannel(fd: hostOut.write),
            toServer: OutputChannel(fd: serverIn.write), diagnostics: Diagnostics(perSecond: 0, burst: 0))
        let req = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\"}\n"
        _ = Array(req.utf8).withUnsafeBytes { FileSystem.writeAll(hostIn.write, $0) }
        close(hostIn.write)
        relay.pump(from: hostIn.read, direction: .hostToServer)
        #expect(relay.hostRequests.lookup(id: "9")?.method == "tools/list")
        let resp = "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}\n"
        _ = Array(resp.utf8).withUnsafeBytes { FileSystem.writeAll(serverOut.write, $0) }
        close(serverOut.write)
        relay.pump(from: serverOut.read, direction: .serverToHost)
        #expect(relay.hostRequests.lookup(id: "9") == nil)
        for fd in [hostIn.read, serverIn.read, serverIn.write, hostOut.read, hostOut.write, serverOut.read] { close(fd) }
    }

    @Test("exit codes: the child's, or 128+N for signal N")
    func exitCodes() {
        #expect(Session.exitCode(7 << 8) == 7)
        #expect(Session.exitCode(9) == 137)
        #expect(Session.exitCode(15) == 143)
    }
}

/// A joinable OS thread for tests.
final class TestThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                let me = Unmanaged<TestThread>.fromOpaque(raw!).takeRetainedValue()
                me.body()
                return nil
            }, context)
    }

    func join() { pthread_join(thread, nil) }
}
