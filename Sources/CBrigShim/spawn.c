// The child side of brig: fork, confine, exec.
//
// Between fork() and execve() only raw system calls and async-signal-safe functions run: brig is
// multi-threaded, and fork copies every lock in whatever state another thread held it. Everything
// the child needs (argv, envp, the BPF program, the Landlock ruleset fd, capability masks) was
// prepared by the parent. Failures travel back over a SOCK_SEQPACKET socketpair as
// {errno, stage}; end-of-file on it means execve succeeded. The same socket announces the seccomp
// user-notification fd (which the parent takes with pidfd_getfd) and carries the egress proxy's
// listening socket (SCM_RIGHTS) when one was asked for.

#include "brig_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#define BRIG_SECCOMP_WAIT_KILLABLE_RECV (1U << 5)
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif


#ifndef SYS_pivot_root
#define SYS_pivot_root 155
#endif
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/stat.h>

/// Writes `text` to `path` (a /proc file); 0 or -1.
static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/// "N N 1\n" for a uid/gid map, without snprintf (not async-signal-safe).
static void id_map_line(char *buf, unsigned long id) {
    char digits[24];
    int n = 0;
    do { digits[n++] = (char)('0' + id % 10); id /= 10; } while (id && n < 20);
    int pos = 0;
    for (int rep = 0; rep < 2; rep++) {
        for (int i = n - 1; i >= 0; i--) buf[pos++] = digits[i];
        buf[pos++] = ' ';
    }
    buf[pos++] = '1';
    buf[pos++] = '\n';
    buf[pos] = 0;
}

/// mkdir -p of every directory above `path` (and `path` itself when `self`), ignoring EEXIST.
static int make_dirs(const char *path, int self) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        if (buf[i] == 0 && !self) break;
        char saved = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        buf[i] = saved;
    }
    return 0;
}

/// The mount flags a read-only remount must keep: in a user namespace the kernel refuses a
/// remount that would clear a flag the original mount was locked with (nosuid, nodev, ...).
static unsigned long kept_mount_flags(const char *target) {
    struct statfs st;
    unsigned long flags = 0;
    if (syscall(SYS_statfs, target, &st) != 0) return 0;
    if (st.f_flags & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flags & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flags & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flags & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flags & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flags & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

/// Builds the view the way bubblewrap does: a tmpfs over /tmp becomes the root for a moment,
/// the old root is reachable at /oldroot while the granted paths are bound from it into
/// /newroot, then /newroot becomes the root and the old one is detached for good.
static int build_view(const brig_spawn_config *cfg) {
    if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) != 0) return -1;
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) return -1;
    if (mkdir("/tmp/newroot", 0755) != 0 || mkdir("/tmp/oldroot", 0755) != 0) return -1;
    if (mount("tmpfs", "/tmp/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) return -1;
    if (syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") != 0) return -1;
    if (chdir("/") != 0) return -1;
    for (int i = 0; i < cfg->view_op_count; i++) {
        const brig_view_op *op = &cfg->view_ops[i];
        switch (op->kind) {
        case BRIG_VIEW_BIND: {
            int is_file = op->flags & BRIG_VIEW_FILE;
            if (make_dirs(op->target, !is_file) != 0) return -1;
            if (is_file) {
                /* O_EXCL: a target that exists already (a socket inside a directory bound
                 * before it, which open would refuse with ENXIO) is bound over as it is. */
                int fd = open(op->target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0 && errno != EEXIST && errno != EISDIR) return -1;
                if (fd >= 0) close(fd);
            }
            if (mount(op->source, op->target, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
            unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | kept_mount_flags(op->target);
            if (!(op->flags & BRIG_VIEW_DEVICES)) flags |= MS_NODEV;
            if (op->flags & BRIG_VIEW_READONLY) flags |= MS_RDONLY;
            if (mount(NULL, op->target, NULL, flags, NULL) != 0) return -1;
            break;
        }
        case BRIG_VIEW_SYMLINK:
            if (make_dirs(op->target, 0) != 0) return -1;
            if (symlink(op->source, op->target) != 0 && errno != EEXIST) return -1;
            break;
        case BRIG_VIEW_TMPFS:
            if (make_dirs(op->target, 1) != 0) return -1;
            if (mount("tmpfs", op->target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") != 0) return -1;
            break;
        case BRIG_VIEW_PROC:
            if (make_dirs(op->target, 1) != 0) return -1;
            if (mount("proc", op->target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) return -1;
            break;
        case BRIG_VIEW_DIR:
            if (make_dirs(op->target, 1) != 0) return -1;
            break;
        default:
            errno = EINVAL;
            return -1;
        }
    }
    if (umount2("/oldroot", MNT_DETACH) != 0) return -1;
    (void)rmdir("/oldroot");
    if (chdir("/newroot") != 0) return -1;
    if (syscall(SYS_pivot_root, ".", ".") != 0) return -1;
    if (umount2(".", MNT_DETACH) != 0) return -1;
    if (chdir("/") != 0) return -1;
    // The root itself (a tmpfs of mount points) is read-only from here on.
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) return -1;
    return 0;
}

/// pid 1 of the server's pid namespace. A process that is pid 1 drops every signal it has no
/// handler for, so the server itself must not be pid 1 (SIGTERM at shutdown would do nothing);
/// this loop is. It holds no descriptor but the status pipe, no capability, ignores every
/// signal (brig signals the server's process group directly), reaps orphans, and when the
/// server ends it hands brig the server's wait status and exits, which takes down whatever the
/// server left in the namespace.
__attribute__((noreturn)) static void run_init(const brig_spawn_config *cfg, pid_t server) {
    int status_fd = cfg->status_fd;
    if (status_fd > 0) (void)syscall(SYS_close_range, 0U, (unsigned)status_fd - 1, 0U);
    (void)syscall(SYS_close_range, (unsigned)(status_fd >= 0 ? status_fd + 1 : 0), ~0U, 0U);
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCHLD) continue;
        (void)sigaction(sig, &ign, NULL);
    }
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    (void)syscall(SYS_capset, &hdr, data);
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    for (;;) {
        int status = 0;
        pid_t pid = (pid_t)syscall(SYS_wait4, -1, &status, 0, NULL);
        if (pid < 0) {
            if (errno == EINTR) continue;
            _exit(127);
        }
        if (pid != server) continue;
        if (status_fd >= 0) (void)!write(status_fd, &status, sizeof status);
        if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
        _exit(128 + (WTERMSIG(status) & 0x7f));
    }
}

struct brig_report {
    int32_t error;
    int32_t stage;
};

/// Writes one report and leaves; `_exit`, never `exit` (atexit handlers and stdio buffers were
/// copied from the parent and must not run twice).
static void child_fail(int sock, int stage) {
    struct brig_report r = { .error = errno, .stage = stage };
    if (r.error == 0) r.error = EINVAL;
    (void)!write(sock, &r, sizeof r);
    _exit(127);
}

/// Moves `fd` onto `target`. When they are equal, dup2 would be a no-op that keeps
/// FD_CLOEXEC, so the flag is cleared explicitly.
static int bind_fd(int fd, int target) {
    if (fd == target) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0) return -1;
        return fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    return dup2(fd, target) < 0 ? -1 : 0;
}

/// Whether brig (the parent) holds CAP_SYS_PTRACE; set before fork, read by the child.
static int parent_has_ptrace_cap;

/// Hands the seccomp listener to the parent without sendmsg (the gate notifies sendmsg, and
/// nobody could answer before the parent has the listener): the child reports the descriptor's
/// number and waits while the parent takes a copy with pidfd_getfd. A parent without
/// CAP_SYS_PTRACE can do that only to a dumpable child (brig is not dumpable, and fork kept
/// that): the child is made dumpable for the moment, already confined; exec sets it anew.
static int announce_listener(int sock, int fd) {
    struct brig_report r = { .error = fd, .stage = BRIG_STAGE_LISTENER };
    if (write(sock, &r, sizeof r) != (ssize_t)sizeof r) return -1;
    char ack = 0;
    if (read(sock, &ack, 1) != 1) return -1;
    if (ack != 1) errno = EPERM;  // the parent could not take it
    return ack == 1 ? 0 : -1;
}

/// The egress proxy's door in the server's network namespace: a TCP socket listening on
/// 127.0.0.1:port there (the only address the server can reach), handed to brig with
/// SCM_RIGHTS (no seccomp is loaded yet) and closed here. brig accepts on it from its own
/// namespace; the server keeps no copy.
static int pass_egress_listener(int sock, uint16_t port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 256) != 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    struct brig_report r = { .error = 0, .stage = BRIG_STAGE_EGRESS };
    struct iovec iov = { .iov_base = &r, .iov_len = sizeof r };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &s, sizeof(int));
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    int e = errno;
    close(s);
    errno = e;
    return n == (ssize_t)sizeof r ? 0 : -1;
}

/// Whether `cap` is in the calling process's effective set (raw capget: async-signal-safe).
static int has_effective_cap(int cap) {
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0) return 0;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

static void mark_fds_cloexec(void) {
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    // Older kernels: walk the descriptor table up to the soft limit (bounded).
    struct rlimit rl;
    long max = 4096;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < 65536)
        max = (long)rl.rlim_cur;
    for (long fd = 3; fd < max; fd++) {
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0) (void)fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

__attribute__((noreturn)) static void run_child(const brig_spawn_config *cfg, int sock, pid_t parent) {
    // 1. Signals: default dispositions (an ignored SIGPIPE would survive exec), empty mask.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)sigaction(sig, &dfl, NULL);  // glibc-reserved signals answer EINVAL: fine
    }
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) child_fail(sock, BRIG_STAGE_SIGNALS);

    // 2. Standard descriptors. A source below 3 that is not its own target is first moved up,
    //    so that binding one stream cannot clobber another's source.
    int fds[3] = { cfg->stdin_fd, cfg->stdout_fd, cfg->stderr_fd };
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0 && fds[i] < 3 && fds[i] != i) {
            int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (moved < 0) child_fail(sock, BRIG_STAGE_STDIO);
            fds[i] = moved;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0 && bind_fd(fds[i], i) != 0) child_fail(sock, BRIG_STAGE_STDIO);
    }

    // 3. A new session: no controlling terminal (TIOCSTI injection needs one).
    if (cfg->new_session && setsid() < 0) child_fail(sock, BRIG_STAGE_SESSION);

    // 4. Die with brig; if brig already died, leave now.
    if (cfg->pdeathsig > 0) {
        if (prctl(PR_SET_PDEATHSIG, cfg->pdeathsig, 0, 0, 0) != 0) child_fail(sock, BRIG_STAGE_PDEATHSIG);
        // In a new pid namespace the parent is outside it and getppid() is 0.
        if (!(cfg->clone_flags & CLONE_NEWPID) && getppid() != parent) _exit(127);
    }

    // 4b. Namespaces. An unprivileged brig made a user namespace too: its uid and gid are
    //     mapped to themselves (setgroups must be denied before an unprivileged gid_map).
    if (cfg->user_namespace) {
        char line[64];
        // brig is non-dumpable, which makes /proc/self/* root's: the maps could not be opened.
        // Dumpable only while writing them (no server runs yet), then not again.
        (void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        if (write_text("/proc/self/setgroups", "deny") != 0 && errno != ENOENT) child_fail(sock, BRIG_STAGE_NAMESPACES);
        id_map_line(line, cfg->outer_uid);
        if (write_text("/proc/self/uid_map", line) != 0) child_fail(sock, BRIG_STAGE_NAMESPACES);
        id_map_line(line, cfg->outer_gid);
        if (write_text("/proc/self/gid_map", line) != 0) child_fail(sock, BRIG_STAGE_NAMESPACES);
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // The pids and memory cgroups are joined while still privileged, before the init forks.
    if (cfg->cgroup_procs_fd >= 0) {
        if (write(cfg->cgroup_procs_fd, "0", 1) != 1) child_fail(sock, BRIG_STAGE_CGROUP);
    }
    if (cfg->cgroup_procs_fd2 >= 0) {
        if (write(cfg->cgroup_procs_fd2, "0", 1) != 1) child_fail(sock, BRIG_STAGE_CGROUP);
    }
    if (cfg->view_ops && cfg->view_op_count > 0) {
        if (build_view(cfg) != 0) child_fail(sock, BRIG_STAGE_VIEW);
        // pid_max is the pid namespace's own (Linux 6.14+): no more tasks than it allows can
        // exist in it, whoever runs them, with no cgroup to join (joining a v1 cgroup costs a
        // whole RCU grace period, about 15 ms, at every start).
        if (cfg->pid_max && write_text("/proc/sys/kernel/pid_max", cfg->pid_max) != 0) child_fail(sock, BRIG_STAGE_VIEW);
    } else if (cfg->clone_flags & CLONE_NEWNS) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) child_fail(sock, BRIG_STAGE_NAMESPACES);
        if ((cfg->clone_flags & CLONE_NEWPID) &&
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            child_fail(sock, BRIG_STAGE_NAMESPACES);
    }
    if (cfg->clone_flags & CLONE_NEWNET) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s >= 0) {
            struct ifreq ifr;
            memset(&ifr, 0, sizeof ifr);
            memcpy(ifr.ifr_name, "lo", 3);
            if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
                ifr.ifr_flags |= IFF_UP;
                (void)ioctl(s, SIOCSIFFLAGS, &ifr);
            }
            close(s);
        }
        if (cfg->egress_port && pass_egress_listener(sock, cfg->egress_port) != 0) child_fail(sock, BRIG_STAGE_EGRESS);
    }
    if (cfg->clone_flags & CLONE_NEWUTS) (void)sethostname("brig", 4);
    // In a new pid namespace this process becomes the init and the server is its child.
    if (cfg->clone_flags & CLONE_NEWPID) {
        pid_t server = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
        if (server < 0) child_fail(sock, BRIG_STAGE_INIT);
        if (server > 0) run_init(cfg, server);
        if (cfg->pdeathsig > 0) (void)prctl(PR_SET_PDEATHSIG, cfg->pdeathsig, 0, 0, 0);
        if (cfg->status_fd >= 0) close(cfg->status_fd);
    }

    // 5. Only 0, 1 and 2 survive exec.
    mark_fds_cloexec();


    // 7. Resource limits.
    for (int i = 0; i < cfg->rlimit_count; i++) {
        struct rlimit rl = { .rlim_cur = (rlim_t)cfg->rlimits[i].soft, .rlim_max = (rlim_t)cfg->rlimits[i].hard };
        if (setrlimit(cfg->rlimits[i].resource, &rl) != 0) child_fail(sock, BRIG_STAGE_RLIMITS);
    }

    if (cfg->view_ops && cfg->view_op_count > 0) {
        if (chdir(cfg->view_cwd ? cfg->view_cwd : "/") != 0) child_fail(sock, BRIG_STAGE_CHDIR);
    } else if (cfg->cwd && chdir(cfg->cwd) != 0) child_fail(sock, BRIG_STAGE_CHDIR);

    // 8. Root: uid 0 must not regain capabilities at exec, and the child must not undo it.
    if (cfg->lock_securebits) {
        int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED;
        if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) child_fail(sock, BRIG_STAGE_SECUREBITS);
    }

    // 9. Bounding set (needs CAP_SETPCAP, so before any uid change; EINVAL past the last cap).
    //    Being in the bounding set is not enough: an unprivileged process has CAP_SETPCAP there
    //    but not in its effective set, and PR_CAPBSET_DROP would fail with EPERM.
    if (cfg->drop_caps && has_effective_cap(CAP_SETPCAP)) {
        for (int cap = 0; cap <= cfg->cap_last && cap < 64; cap++) {
            if (cfg->cap_keep & (1ULL << cap)) continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) child_fail(sock, BRIG_STAGE_CAPS);
        }
    }

    // 10. Another user (order matters: groups, then gid, then uid).
    if (cfg->set_ids) {
        if (syscall(SYS_setgroups, 0, NULL) != 0) child_fail(sock, BRIG_STAGE_IDS);
        if (syscall(SYS_setresgid, cfg->gid, cfg->gid, cfg->gid) != 0) child_fail(sock, BRIG_STAGE_IDS);
        if (syscall(SYS_setresuid, cfg->uid, cfg->uid, cfg->uid) != 0) child_fail(sock, BRIG_STAGE_IDS);
    }

    // 11. Effective, permitted, inheritable := kept; ambient := kept (so they survive exec).
    if (cfg->drop_caps) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[2];
        memset(data, 0, sizeof data);
        uint32_t lo = (uint32_t)(cfg->cap_keep & 0xffffffffu), hi = (uint32_t)(cfg->cap_keep >> 32);
        data[0].effective = data[0].permitted = data[0].inheritable = lo;
        data[1].effective = data[1].permitted = data[1].inheritable = hi;
        // Unprivileged: capset can only lower; with nothing kept that is all zeros anyway.
        if (syscall(SYS_capset, &hdr, data) != 0 && cfg->cap_keep != 0) child_fail(sock, BRIG_STAGE_CAPS);
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        for (int cap = 0; cap <= cfg->cap_last && cap < 64; cap++) {
            if (!(cfg->cap_keep & (1ULL << cap))) continue;
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) child_fail(sock, BRIG_STAGE_CAPS);
        }
    }

    // 12. No setuid, no file capabilities, ever again.
    if (cfg->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(sock, BRIG_STAGE_NO_NEW_PRIVS);

    // 13. Landlock. The child first grants itself read access to its own /proc/PID (only it
    //     knows its pid's inode; the parent cannot name it in advance), so that it can read
    //     /proc/self/maps, status and fd without seeing any other process.
    if (cfg->landlock_fd >= 0) {
        if (cfg->landlock_proc_self) {
            // With a private /proc (new pid namespace) all of it is the sandbox's own: grant it.
            const char *own = (cfg->clone_flags & CLONE_NEWPID) ? "/proc" : "/proc/self";
            int self = open(own, O_PATH | O_CLOEXEC);
            if (self >= 0) {
                struct { uint64_t allowed; int32_t fd; } __attribute__((packed)) rule = { cfg->landlock_proc_self, self };
                (void)syscall(SYS_landlock_add_rule, cfg->landlock_fd, 1 /* PATH_BENEATH */, &rule, 0U);
                close(self);
            }
        }
        if (syscall(SYS_landlock_restrict_self, cfg->landlock_fd, 0U) != 0) child_fail(sock, BRIG_STAGE_LANDLOCK);
    }

    // 14. seccomp last: the filter must still allow what follows (sendmsg, close, execve).
    if (cfg->bpf2) {
        struct sock_fprog prog2 = { .len = cfg->bpf2_len, .filter = (struct sock_filter *)cfg->bpf2 };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, &prog2) < 0) child_fail(sock, BRIG_STAGE_SECCOMP);
    }
    if (cfg->bpf) {
        if (cfg->seccomp_listener && !parent_has_ptrace_cap && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
            child_fail(sock, BRIG_STAGE_LISTENER);
        }
        struct sock_fprog prog = { .len = cfg->bpf_len, .filter = (struct sock_filter *)cfg->bpf };
        unsigned int flags = cfg->seccomp_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
        // Once brig has received a notification it may be making the call for the child (the
        // socket gate): a signal must not abort and restart the child's call then, or a send
        // would go out twice. Linux 5.19+; older kernels load without it.
        unsigned int killable = cfg->seccomp_listener && !cfg->spawn_notify_continue ? BRIG_SECCOMP_WAIT_KILLABLE_RECV : 0;
        long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags | killable, &prog);
        if (rc < 0 && errno == EINVAL && killable) rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        if (rc < 0) child_fail(sock, BRIG_STAGE_SECCOMP);
        if (cfg->seccomp_listener) {
            if (announce_listener(sock, (int)rc) != 0) child_fail(sock, BRIG_STAGE_LISTENER);
            close((int)rc);
        }
    }

    execve(cfg->path, cfg->argv, cfg->envp);
    child_fail(sock, BRIG_STAGE_EXEC);
    _exit(127);
}

/// Serializes the signal-mask dance around fork across threads.
static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;

int brig_spawn(const brig_spawn_config *cfg, pid_t *pid_out, int *stage_out, int *listener_out, int *egress_out) {
    *pid_out = -1;
    *stage_out = BRIG_STAGE_NONE;
    *listener_out = -1;
    *egress_out = -1;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -errno;
    int passcred = 1;
    (void)setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &passcred, sizeof passcred);

    sigset_t all, old;
    sigfillset(&all);
    pthread_mutex_lock(&spawn_lock);
    parent_has_ptrace_cap = has_effective_cap(CAP_SYS_PTRACE);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    // With namespaces, clone(2) as fork: no stack, SIGCHLD on exit, the new namespaces.
    pid_t pid = cfg->clone_flags ? (pid_t)syscall(SYS_clone, (unsigned long)(SIGCHLD | cfg->clone_flags), NULL, NULL, NULL, NULL)
                                 : fork();
    if (pid == 0) {
        close(sv[0]);
        run_child(cfg, sv[1], parent);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_unlock(&spawn_lock);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        if (cfg->clone_flags) *stage_out = BRIG_STAGE_CLONE;
        return -fork_errno;
    }

    int result = 0;
    for (;;) {
        // Once the child has handed over its seccomp listener, a call it makes before exec
        // succeeds (execve itself, in watch mode) would wait for an answer that nobody gives
        // while this thread waits for exec: answer those here.
        if (*listener_out >= 0) {
            struct pollfd pfd[2] = { { .fd = sv[0], .events = POLLIN }, { .fd = *listener_out, .events = POLLIN } };
            if (poll(pfd, 2, -1) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            if ((pfd[1].revents & POLLIN) && !(pfd[0].revents & (POLLIN | POLLHUP))) {
                struct seccomp_notif req;
                memset(&req, 0, sizeof req);
                if (ioctl(*listener_out, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
                    struct seccomp_notif_resp resp;
                    memset(&resp, 0, sizeof resp);
                    resp.id = req.id;
                    if (cfg->spawn_notify_continue) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                    else resp.error = -EPERM;
                    (void)ioctl(*listener_out, SECCOMP_IOCTL_NOTIF_SEND, &resp);
                }
                continue;
            }
        }
        struct brig_report r;
        struct iovec iov = { .iov_base = &r, .iov_len = sizeof r };
        union {
            char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        ssize_t n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EOF: exec succeeded (or the child vanished; waitpid will tell)
        if (r.stage == BRIG_STAGE_EGRESS && r.error == 0) {
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c), sizeof fd);
                    if (*egress_out >= 0) close(fd);
                    else *egress_out = fd;
                }
            }
            continue;
        }
        if (r.stage == BRIG_STAGE_LISTENER) {
            // The process that announced it: in a new pid namespace the server is the init's
            // child, whose pid (in brig's namespace) the kernel attaches to the message
            // (SO_PASSCRED), translated for the receiver.
            pid_t holder = pid;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                    struct ucred cred;
                    memcpy(&cred, CMSG_DATA(c), sizeof cred);
                    if (cred.pid > 0) holder = cred.pid;
                }
            }
            int pidfd = brig_pidfd_open_thread(holder);
            if (pidfd >= 0) {
                int fd = brig_pidfd_getfd(pidfd, r.error);
                if (fd >= 0) *listener_out = fd;
                close(pidfd);
            }
            char ack = *listener_out >= 0;
            (void)!write(sv[0], &ack, 1);
            continue;
        }
        *stage_out = r.stage;
        result = -r.error;
    }
    close(sv[0]);
    if (result != 0) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (*listener_out >= 0) {
            close(*listener_out);
            *listener_out = -1;
        }
        if (*egress_out >= 0) {
            close(*egress_out);
            *egress_out = -1;
        }
        return result;
    }
    *pid_out = pid;
    return 0;
}
