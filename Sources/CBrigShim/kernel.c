// Kernel interfaces Swift cannot call directly: variadic prctl/syscall/ioctl, and Landlock and
// seccomp-notification structures newer than this system's kernel headers.

#include "brig_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#define BRIG_LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define BRIG_LANDLOCK_RULE_PATH_BENEATH 1
#define BRIG_LANDLOCK_RULE_NET_PORT 2

/// The ruleset attribute as of ABI 6; the size passed to the kernel follows the ABI in use.
struct brig_landlock_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;  // ABI 4
    uint64_t scoped;              // ABI 6
};

struct brig_landlock_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct brig_landlock_net_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

static int neg_errno(long rc) { return rc < 0 ? -errno : (int)rc; }

int brig_set_dumpable(int value) { return neg_errno(prctl(PR_SET_DUMPABLE, value, 0, 0, 0)); }
int brig_set_no_new_privs(void) { return neg_errno(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)); }
int brig_capbset_read(int cap) { return neg_errno(prctl(PR_CAPBSET_READ, cap, 0, 0, 0)); }

int brig_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable) {
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0) return -errno;
    *effective = ((uint64_t)data[1].effective << 32) | data[0].effective;
    *permitted = ((uint64_t)data[1].permitted << 32) | data[0].permitted;
    *inheritable = ((uint64_t)data[1].inheritable << 32) | data[0].inheritable;
    return 0;
}

int brig_memfd(void) { return neg_errno(syscall(SYS_memfd_create, "brig-bpf", 1U /* MFD_CLOEXEC */)); }

int brig_pipe_cloexec(int fds[2]) { return neg_errno(pipe2(fds, O_CLOEXEC)); }

int brig_set_pipe_size(int fd, int size) { return neg_errno(fcntl(fd, F_SETPIPE_SZ, size)); }

int brig_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return neg_errno(fcntl(fd, F_SETFL, flags));
}

int brig_landlock_abi(void) {
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, BRIG_LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

int brig_landlock_create_ruleset(uint64_t handled_fs, uint64_t handled_net, uint64_t scoped) {
    struct brig_landlock_ruleset_attr attr = { handled_fs, handled_net, scoped };
    size_t size = scoped ? sizeof attr : handled_net ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
    return neg_errno(syscall(SYS_landlock_create_ruleset, &attr, size, 0U));
}

int brig_landlock_add_path(int ruleset_fd, int parent_fd, uint64_t allowed) {
    struct brig_landlock_path_beneath_attr attr = { .allowed_access = allowed, .parent_fd = parent_fd };
    return neg_errno(syscall(SYS_landlock_add_rule, ruleset_fd, BRIG_LANDLOCK_RULE_PATH_BENEATH, &attr, 0U));
}

int brig_landlock_add_port(int ruleset_fd, uint64_t port, uint64_t allowed) {
    struct brig_landlock_net_port_attr attr = { .allowed_access = allowed, .port = port };
    return neg_errno(syscall(SYS_landlock_add_rule, ruleset_fd, BRIG_LANDLOCK_RULE_NET_PORT, &attr, 0U));
}

int brig_landlock_restrict_self(int ruleset_fd) {
    return neg_errno(syscall(SYS_landlock_restrict_self, ruleset_fd, 0U));
}

int brig_seccomp_notify_supported(void) {
    struct seccomp_notif_sizes sizes;
    return syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0;
}

int brig_seccomp_load(const void *bpf, unsigned short len) {
    struct sock_fprog prog = { .len = len, .filter = (struct sock_filter *)bpf };
    return neg_errno(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, &prog));
}

int brig_seccomp_receive(int listener, brig_notification *out) {
    struct seccomp_notif req;
    for (;;) {
        // Wait first: once no process uses the filter any more the fd reports POLLHUP, and a
        // bare RECV would fail at once, again and again.
        struct pollfd pfd = { .fd = listener, .events = POLLIN };
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (!(pfd.revents & POLLIN)) return -ESRCH;  // POLLHUP/POLLERR: every user of the filter is gone
        memset(&req, 0, sizeof req);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) break;
        if (errno == EINTR) continue;
        return -errno;
    }
    out->id = req.id;
    out->pid = req.pid;
    out->nr = req.data.nr;
    out->arch = req.data.arch;
    out->instruction_pointer = req.data.instruction_pointer;
    for (int i = 0; i < 6; i++) out->args[i] = req.data.args[i];
    return 0;
}

int brig_seccomp_respond(int listener, uint64_t id, int error, int continue_call) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    if (continue_call) {
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
        resp.error = -error;
    }
    for (;;) {
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0) return 0;
        if (errno == EINTR) continue;
        return -errno;
    }
}

long brig_read_process_memory(pid_t pid, uint64_t addr, void *buf, unsigned long len) {
    struct iovec local = { .iov_base = buf, .iov_len = len };
    struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
    long n = syscall(SYS_process_vm_readv, pid, &local, 1UL, &remote, 1UL, 0UL);
    return n < 0 ? -errno : n;
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#define BRIG_PIDFD_THREAD 0x80  /* O_EXCL */
#ifndef SECCOMP_IOCTL_NOTIF_ADDFD
struct seccomp_notif_addfd {
    uint64_t id;
    uint32_t flags;
    uint32_t srcfd;
    uint32_t newfd;
    uint32_t newfd_flags;
};
#define SECCOMP_IOCTL_NOTIF_ADDFD _IOW('!', 3, struct seccomp_notif_addfd)
#endif
#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

int brig_pidfd_open_thread(pid_t tid) {
    long fd = syscall(SYS_pidfd_open, tid, BRIG_PIDFD_THREAD);
    if (fd < 0 && errno == EINVAL) fd = syscall(SYS_pidfd_open, tid, 0U);
    return neg_errno(fd);
}

int brig_pidfd_getfd(int pidfd, int fd) { return neg_errno(syscall(SYS_pidfd_getfd, pidfd, fd, 0U)); }

int brig_pidfd_send_signal(int pidfd, int sig) { return neg_errno(syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0U)); }

int brig_seccomp_notify_id_valid(int listener, uint64_t id) {
    return neg_errno(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id));
}

int brig_seccomp_respond_value(int listener, uint64_t id, int64_t value, int error) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    if (error > 0) resp.error = -error;
    else resp.val = value;
    for (;;) {
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0) return 0;
        if (errno == EINTR) continue;
        return -errno;
    }
}

int brig_seccomp_addfd_send(int listener, uint64_t id, int fd, int cloexec) {
    struct seccomp_notif_addfd addfd;
    memset(&addfd, 0, sizeof addfd);
    addfd.id = id;
    addfd.flags = SECCOMP_ADDFD_FLAG_SEND;
    addfd.srcfd = (uint32_t)fd;
    addfd.newfd_flags = cloexec ? O_CLOEXEC : 0;
    for (;;) {
        int rc = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
        if (rc >= 0) return rc;
        if (errno == EINTR) continue;
        return -errno;
    }
}

long brig_write_process_memory(pid_t pid, uint64_t addr, const void *buf, unsigned long len) {
    struct iovec local = { .iov_base = (void *)buf, .iov_len = len };
    struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
    long n = syscall(SYS_process_vm_writev, pid, &local, 1UL, &remote, 1UL, 0UL);
    return n < 0 ? -errno : n;
}

int brig_memfd_create(const char *name, unsigned int flags) { return neg_errno(syscall(SYS_memfd_create, name, flags)); }

int brig_set_thread_fsids(uid_t uid, gid_t gid) {
    // setfsuid/setfsgid return the previous id and never fail visibly: ask twice to check.
    syscall(SYS_setfsgid, gid);
    syscall(SYS_setfsuid, uid);
    if ((gid_t)syscall(SYS_setfsgid, -1) != gid || (uid_t)syscall(SYS_setfsuid, -1) != uid) return -EPERM;
    return 0;
}

int brig_clear_thread_groups(void) { return neg_errno(syscall(SYS_setgroups, 0, NULL)); }

long brig_cheap_syscalls(long count) {
    long sum = 0;
    for (long i = 0; i < count; i++) sum += syscall(SYS_getppid);
    return sum;
}
