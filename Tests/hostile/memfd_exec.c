// Fileless exec: copies /usr/bin/true into a memfd and runs it, with execveat(fd, "",
// AT_EMPTY_PATH) and with execve("/proc/self/fd/N") (each in a child process).
// usage: memfd_exec
#include "hostile.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x10U
#endif

static int try_exec(int fd, int how) {
    pid_t pid = fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        char *argv[] = { "true", NULL }, *envp[] = { NULL };
        char path[64];
        if (how == 0) {
            syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
        } else {
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            execve(path, argv, envp);
        }
        _exit(100 + (errno & 0x3f));  // the errno, encoded
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) >= 100 ? WEXITSTATUS(status) - 100 : EIO;
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc != 1) usage("memfd_exec");
    int src = open("/usr/bin/true", O_RDONLY | O_CLOEXEC);
    if (src < 0) blocked(errno, "open /usr/bin/true");
    int fd = (int)syscall(SYS_memfd_create, "hostile", 0U);
    if (fd < 0) fd = (int)syscall(SYS_memfd_create, "hostile", MFD_EXEC);
    if (fd < 0) blocked(errno, "memfd_create");
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof buf)) > 0) {
        if (write(fd, buf, (size_t)n) != n) blocked(errno, "writing the memfd");
    }
    // Make it executable if nothing stops that (a plain memfd is mode 0777 already; one made
    // with MFD_NOEXEC_SEAL is 0666 and sealed against this).
    int chmod_error = fchmod(fd, 0755) == 0 ? 0 : errno;
    int e1 = try_exec(fd, 0);
    if (e1 == 0) escaped("execveat(memfd, \"\", AT_EMPTY_PATH) ran /usr/bin/true");
    int e2 = try_exec(fd, 1);
    if (e2 == 0) escaped("execve(/proc/self/fd/%d) ran /usr/bin/true", fd);
    // An explicit MFD_EXEC request must not give an executable memfd either.
    int xfd = (int)syscall(SYS_memfd_create, "hostile-exec", MFD_EXEC);
    int e3 = xfd < 0 ? errno : 0;
    fprintf(stderr, "memfd_exec: execveat: %s; execve: %s; fchmod +x: %s; memfd_create(MFD_EXEC): %s\n", strerror(e1),
            strerror(e2), chmod_error ? strerror(chmod_error) : "done", xfd < 0 ? strerror(e3) : "created");
    blocked(e2, "exec of a memfd (execveat: %s)", strerror(e1));
}
