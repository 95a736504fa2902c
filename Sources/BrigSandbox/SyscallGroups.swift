/// Named groups of system calls that profiles refer to as `@name`.
///
/// `@default-deny` is what the `default` profile refuses: Docker's default seccomp profile's
/// denials plus the newer and riskier interfaces that profile predates or allows (io_uring,
/// userfaultfd, the new mount API, pidfd_getfd, ...). Conditional rules (clone with namespace
/// flags, socket families, TIOCSTI/TIOCLINUX, personality) are added by `SeccompProgram`
/// itself, because a group is a list of names.
public enum SyscallGroups {
    public static let groups: [String: [String]] = [
        "mount": [
            "mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
            "open_tree", "mount_setattr", "pivot_root", "chroot",
        ],
        "module": ["init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms"],
        "reboot": ["reboot", "kexec_load", "kexec_file_load"],
        "swap": ["swapon", "swapoff"],
        "clock": ["settimeofday", "stime", "clock_settime", "clock_adjtime"],
        "debug": [
            "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "perf_event_open",
            "lookup_dcookie",
        ],
        "keyring": ["keyctl", "add_key", "request_key"],
        "io-uring": ["io_uring_setup", "io_uring_enter", "io_uring_register"],
        "namespaces": ["unshare", "setns"],
        "privileged": [
            "acct", "quotactl", "quotactl_fd", "syslog", "iopl", "ioperm", "modify_ldt", "vm86", "vm86old",
            "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl", "open_by_handle_at", "name_to_handle_at",
            "bpf", "userfaultfd", "vhangup", "fanotify_init",
        ],
        "numa": ["mbind", "set_mempolicy", "move_pages", "migrate_pages"],
    ]

    /// The `default` profile's deny list.
    public static let defaultDeny: [String] = [
        "@mount", "@module", "@reboot", "@swap", "@clock", "@debug",
        "@keyring", "@io-uring", "@namespaces", "@privileged", "@numa",
    ]

    /// The `strict` profile's allow list: what ordinary programs (CPython, node, shells, git)
    /// call to compute, read and write files, use pipes and sockets, and manage threads.
    /// Nothing `@default-deny` names is in it (a unit test holds that line): strict is at least
    /// as strong as default in every mechanism.
    public static let strictAllow: [String] = [
        // process and threads
        "execve", "execveat", "exit", "exit_group", "clone", "fork", "vfork", "wait4", "waitid", "getpid", "getppid",
        "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid", "getpgrp",
        "getpgid", "getsid", "setpgid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq", "futex",
        "futex_waitv", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
        "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min", "getpriority", "setpriority",
        "prctl", "arch_prctl", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "uname", "sysinfo",
        "capget", "personality", "membarrier", "kill", "tgkill", "tkill", "pidfd_open", "pidfd_send_signal",
        // signals
        "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigpending",
        "rt_sigqueueinfo", "sigaltstack", "pause", "alarm", "setitimer", "getitimer",
        // memory
        "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore", "mlock", "munlock",
        "pkey_alloc", "pkey_free", "pkey_mprotect", "memfd_create",
        // files
        "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
        "open", "openat", "openat2", "creat", "close", "close_range", "lseek", "stat", "fstat", "lstat", "newfstatat",
        "statx", "statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents",
        "getdents64", "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename",
        "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown",
        "fchown", "lchown", "fchownat", "utime", "utimes", "utimensat", "futimesat", "truncate", "ftruncate",
        "fallocate", "fsync", "fdatasync", "sync_file_range", "flock", "fcntl", "dup", "dup2", "dup3", "pipe",
        "pipe2", "ioctl", "sendfile", "splice", "tee", "copy_file_range", "umask", "fadvise64", "readahead",
        "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "inotify_init",
        "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
        // polling and events
        "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
        "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create",
        "timerfd_settime", "timerfd_gettime",
        // time
        "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
        // randomness
        "getrandom",
        // sockets (families are limited by the conditional socket rules)
        "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "getsockname", "getpeername",
        "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
    ]

    /// Expands names and `@groups` (recursively) into syscall names.
    public static func expand(_ names: [String]) throws(SandboxError) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        func add(_ name: String, depth: Int) throws(SandboxError) {
            if name.hasPrefix("@") {
                let group = String(name.dropFirst())
                let members: [String]
                switch group {
                case "default-deny": members = defaultDeny
                case "strict-allow": members = strictAllow
                default:
                    guard let g = groups[group] else {
                        throw SandboxError(
                            "unknown syscall group '\(name)'; known: "
                                + (["@default-deny", "@strict-allow"] + groups.keys.sorted().map { "@" + $0 }).joined(separator: ", "))
                    }
                    members = g
                }
                guard depth < 4 else { return }
                for m in members { try add(m, depth: depth + 1) }
            } else if seen.insert(name).inserted {
                out.append(name)
            }
        }
        for n in names { try add(n, depth: 0) }
        return out
    }
}

/// A sandbox that cannot be built as asked: one line for the user.
public struct SandboxError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
