#if canImport(Glibc)
@preconcurrency public import Glibc
#endif

/// A failed system call: its errno, and what brig was doing. The one way brig's modules turn an
/// errno into text, so every message says it the same way (`strerror`'s words).
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    public var code: Int32
    /// What failed, e.g. `open /etc/brig/x.yaml`; empty for the bare errno text.
    public var operation: String

    public init(_ operation: String = "", code: Int32) {
        self.code = code
        self.operation = operation
    }

    /// With the calling thread's errno.
    public init(_ operation: String = "") { self.init(operation, code: errno) }

    /// `strerror(code)`: "No such file or directory".
    public static func text(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// `strerror(errno)`.
    public static func text() -> String { text(errno) }

    public var description: String { operation.isEmpty ? SystemError.text(code) : "\(operation): \(SystemError.text(code))" }
}

/// Runs `call` again while it fails with EINTR (the system-call convention: a negative result
/// and errno). Every blocking call brig makes outside the C shim goes through here.
@inlinable
public func retryingInterrupted<T: BinaryInteger>(_ call: () -> T) -> T {
    while true {
        let r = call()
        if r >= 0 || errno != EINTR { return r }
    }
}
