/// brig's C shim.
///
/// It exists for two reasons only:
/// 1. The code between fork and exec must call nothing but async-signal-safe functions and raw
///    system calls (brig is multi-threaded; a lock held by another thread at fork time would
///    deadlock the child). Swift cannot promise that, so `brig_spawn` does that part in C.
/// 2. Some kernel interfaces do not import into Swift: variadic `prctl`/`syscall`/`ioctl`,
///    and declarations that need `_GNU_SOURCE` or newer kernel headers than this system has.
///
/// Every symbol is prefixed `brig_`. Return convention: 0 or a non-negative value on success,
/// `-errno` on failure (no reliance on the thread-local `errno` after return).
#ifndef BRIG_SHIM_H
#define BRIG_SHIM_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Where a child failed before `execve` succeeded (reported to the parent with the errno).
enum brig_stage {
    BRIG_STAGE_NONE = 0,
    BRIG_STAGE_SIGNALS = 1,
    BRIG_STAGE_STDIO = 2,
    BRIG_STAGE_SESSION = 3,
    BRIG_STAGE_PDEATHSIG = 4,
    BRIG_STAGE_FDS = 5,
    BRIG_STAGE_RLIMITS = 6,
    BRIG_STAGE_CHDIR = 7,
    BRIG_STAGE_SECUREBITS = 8,
    BRIG_STAGE_IDS = 9,
    BRIG_STAGE_CAPS = 10,
    BRIG_STAGE_NO_NEW_PRIVS = 11,
    BRIG_STAGE_LANDLOCK = 12,
    BRIG_STAGE_SECCOMP = 13,
    BRIG_STAGE_LISTENER = 14,
    BRIG_STAGE_EXEC = 15,
    BRIG_STAGE_CGROUP = 16,
    BRIG_STAGE_NAMESPACES = 17,
    BRIG_STAGE_CLONE = 18,      ///< clone(2) itself refused the namespaces (reported by the parent)
    BRIG_STAGE_VIEW = 19,       ///< building the mount-namespace view
    BRIG_STAGE_INIT = 20,       ///< forking the server under the pid namespace's init
    BRIG_STAGE_EGRESS = 21,     ///< the egress proxy's listening socket in the new network namespace
};

/// One step of building the child's filesystem view (a new mount namespace holding only the
/// granted paths). The parent computes every step and every path; the child only runs them.
enum brig_view_kind {
    BRIG_VIEW_BIND = 1,     ///< bind `source` (a path under /oldroot) onto `target` (under /newroot)
    BRIG_VIEW_SYMLINK = 2,  ///< a symlink at `target` whose text is `source`
    BRIG_VIEW_TMPFS = 3,    ///< a tmpfs at `target` (mode 0755, nosuid, nodev, noexec)
    BRIG_VIEW_PROC = 4,     ///< a proc at `target` (the new pid namespace's)
    BRIG_VIEW_DIR = 5,      ///< an empty directory at `target` (a working directory to stand in)
};
enum brig_view_flag {
    BRIG_VIEW_READONLY = 1, ///< bind read-only
    BRIG_VIEW_FILE = 2,     ///< the bind's source is not a directory: the target is made a file
    BRIG_VIEW_DEVICES = 4,  ///< keep device nodes working (no nodev)
};
typedef struct brig_view_op {
    int kind;
    int flags;
    const char *source;
    const char *target;
} brig_view_op;


/// One resource limit to set in the child (`prlimit64`).
typedef struct brig_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
} brig_rlimit;

/// Everything the child needs, prepared by the parent so the child allocates nothing.
typedef struct brig_spawn_config {
    const char *path;          ///< resolved executable path
    char *const *argv;         ///< NULL-terminated
    char *const *envp;         ///< NULL-terminated
    const char *cwd;           ///< NULL: stay where brig is
    int stdin_fd, stdout_fd, stderr_fd;

    unsigned long clone_flags; ///< CLONE_NEW* namespaces for the child (root); 0: plain fork
    int new_session;           ///< setsid(): no controlling terminal to inject into
    int pdeathsig;             ///< signal sent to the child when brig dies (0: none)

    const brig_rlimit *rlimits;
    int rlimit_count;

    int cgroup_procs_fd;       ///< -1, or an open cgroup.procs to join before anything else
    int cgroup_procs_fd2;      ///< -1, or a second one (cgroup v1: pids and memory are separate hierarchies)

    int user_namespace;        ///< with CLONE_NEWUSER: map this uid/gid to itself inside
    uid_t outer_uid;
    gid_t outer_gid;
    const brig_view_op *view_ops; ///< NULL, or the steps that build the view (needs CLONE_NEWNS)
    int view_op_count;
    const char *view_cwd;      ///< inside the view: the working directory (NULL: /)
    int status_fd;             ///< with CLONE_NEWPID: the init writes the server's wait status here (-1: none)
    const char *pid_max;       ///< NULL, or the view's pid namespace's kernel.pid_max (bounds its processes)

    int set_ids;               ///< change to uid/gid below (root only)
    uid_t uid;
    gid_t gid;

    int drop_caps;             ///< drop capabilities except `cap_keep`
    uint64_t cap_keep;         ///< bit N = keep capability N
    int cap_last;              ///< highest capability number the kernel knows
    int lock_securebits;       ///< root only: SECBIT_NOROOT & co, locked

    int no_new_privs;
    int landlock_fd;           ///< -1: no Landlock; else a ruleset fd to enforce
    uint64_t landlock_proc_self; ///< rights the child grants itself on its own /proc/PID (0: none)
    const void *bpf;           ///< NULL: no seccomp; else `struct sock_filter[bpf_len]`
    unsigned short bpf_len;
    const void *bpf2;          ///< NULL, or a second program loaded before `bpf` (filters stack)
    unsigned short bpf2_len;
    int seccomp_listener;      ///< load with SECCOMP_FILTER_FLAG_NEW_LISTENER, pass the fd back
    int spawn_notify_continue; ///< notifications before exec: 1 lets them run (watch mode), 0 fails them with EPERM
    uint16_t egress_port;      ///< with CLONE_NEWNET: listen on 127.0.0.1:port inside it, pass the socket back (0: none)
} brig_spawn_config;

/// Forks and execs `cfg->path` under the configured confinement.
///
/// On success returns 0, stores the child pid, and, when `seccomp_listener` was set, the
/// seccomp user-notification fd received from the child (else -1), and, when `egress_port` was
/// set, the listening socket the child made in its network namespace (else -1). On failure
/// before exec returns `-errno` and stores the failing stage; the child has been reaped.
int brig_spawn(const brig_spawn_config *cfg, pid_t *pid_out, int *stage_out, int *listener_out, int *egress_out);

/// `prctl(PR_SET_DUMPABLE, v)`: variadic in glibc.
int brig_set_dumpable(int value);
/// `prctl(PR_SET_NO_NEW_PRIVS, 1)` for the calling thread (tests).
int brig_set_no_new_privs(void);
/// `prctl(PR_CAPBSET_READ, cap)`: 1 when in the bounding set.
int brig_capbset_read(int cap);
/// Reads the effective, permitted and inheritable sets of the calling process (`capget`).
int brig_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);

/// `memfd_create(MFD_CLOEXEC)`: needs _GNU_SOURCE.
int brig_memfd(void);
/// `pipe2(O_CLOEXEC)`: needs _GNU_SOURCE.
int brig_pipe_cloexec(int fds[2]);
/// `fcntl(F_SETPIPE_SZ)`: larger pipes mean fewer wake-ups for large messages; returns the size or -errno.
int brig_set_pipe_size(int fd, int size);
/// Sets or clears O_NONBLOCK (`fcntl` is variadic).
int brig_set_nonblocking(int fd, int on);

/// Landlock ABI version the kernel supports (0 when Landlock is unavailable or disabled).
int brig_landlock_abi(void);
/// Creates a ruleset handling the given access rights; returns the fd or -errno.
int brig_landlock_create_ruleset(uint64_t handled_fs, uint64_t handled_net, uint64_t scoped);
/// Adds a path rule (`parent_fd` opened with O_PATH); returns 0 or -errno.
int brig_landlock_add_path(int ruleset_fd, int parent_fd, uint64_t allowed);
/// Adds a TCP port rule; returns 0 or -errno.
int brig_landlock_add_port(int ruleset_fd, uint64_t port, uint64_t allowed);
/// Enforces a ruleset on the calling thread (tests); needs no_new_privs or CAP_SYS_ADMIN.
int brig_landlock_restrict_self(int ruleset_fd);

/// Whether the kernel supports seccomp user notification (SECCOMP_GET_NOTIF_SIZES works).
int brig_seccomp_notify_supported(void);
/// Loads a BPF filter into the calling thread (tests), after no_new_privs.
int brig_seccomp_load(const void *bpf, unsigned short len);

/// One received seccomp notification, flattened for Swift.
typedef struct brig_notification {
    uint64_t id;
    uint32_t pid;
    int32_t nr;
    uint32_t arch;
    uint64_t instruction_pointer;
    uint64_t args[6];
} brig_notification;

/// Blocks until a notification arrives on `listener`; 0, or -errno (ENOENT: the caller died before
/// it was read; ESRCH: no process uses the filter any more).
int brig_seccomp_receive(int listener, brig_notification *out);
/// Answers a notification: `error` > 0 fails the call with that errno; `error` == 0 with
/// `continue_call` lets it run; returns 0 or -errno.
int brig_seccomp_respond(int listener, uint64_t id, int error, int continue_call);
/// Reads `len` bytes at `addr` from process `pid` (`process_vm_readv`); returns bytes read or -errno.
long brig_read_process_memory(pid_t pid, uint64_t addr, void *buf, unsigned long len);

/// `pidfd_open(pid, PIDFD_THREAD)` (a notification names a thread), falling back to a
/// thread-group pidfd on kernels before 6.9; returns the fd (O_CLOEXEC) or -errno.
int brig_pidfd_open_thread(pid_t tid);
/// `pidfd_getfd(pidfd, fd, 0)`: a copy of another process's descriptor (same open file
/// description, O_CLOEXEC); needs PTRACE_MODE_ATTACH on the target. Returns the fd or -errno.
int brig_pidfd_getfd(int pidfd, int fd);
/// `pidfd_send_signal(pidfd, sig, NULL, 0)`; 0 or -errno.
int brig_pidfd_send_signal(int pidfd, int sig);
/// SECCOMP_IOCTL_NOTIF_ID_VALID: 0 while the notification is still pending (its caller still
/// blocked in the call, so a pid read before is still that caller), else -errno (ENOENT).
int brig_seccomp_notify_id_valid(int listener, uint64_t id);
/// Answers a notification with a return value (`error` == 0) or a failure (`error` > 0, an errno);
/// never lets the call run. Returns 0 or -errno.
int brig_seccomp_respond_value(int listener, uint64_t id, int64_t value, int error);
/// SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND: installs a copy of `fd` in the caller
/// and makes its number the call's return value, atomically. Returns that number or -errno.
int brig_seccomp_addfd_send(int listener, uint64_t id, int fd, int cloexec);
/// Writes `len` bytes at `addr` in process `pid` (`process_vm_writev`); returns bytes written or -errno.
long brig_write_process_memory(pid_t pid, uint64_t addr, const void *buf, unsigned long len);
/// `memfd_create(name, flags)` (needs _GNU_SOURCE and MFD_NOEXEC_SEAL); returns the fd or -errno.
int brig_memfd_create(const char *name, unsigned int flags);
/// Sets the calling thread's filesystem uid and gid (raw setfsgid/setfsuid: per thread, unlike
/// glibc's setuid family). Going from uid 0 to another uid drops the thread's filesystem
/// capabilities (CAP_DAC_OVERRIDE & co), so path lookups and socket permission checks are the
/// other user's. Returns 0, or -EPERM when the ids did not change.
int brig_set_thread_fsids(uid_t uid, gid_t gid);
/// Drops the calling thread's supplementary groups (raw setgroups: per thread). 0 or -errno.
int brig_clear_thread_groups(void);

/// `syscall(SYS_getppid)` etc. for the syscall-heavy benchmark child: `count` cheap calls.
long brig_cheap_syscalls(long count);

#ifdef __cplusplus
}
#endif

#endif
