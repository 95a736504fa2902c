// The pointer race a CONTINUE-based gate loses: one thread flips the sockaddr between an allowed
// and a denied path in a tight loop while the main thread connects again and again. If the check
// and the kernel's own read of the address ever see different paths, a connection reaches the
// denied socket (the test's listener there answers "denied").
// usage: unix_connect_race PATH_ALLOWED PATH_DENIED
#include "hostile.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>

static struct sockaddr_un shared = { .sun_family = AF_UNIX };
static char allowed[108], denied[108];
static atomic_int stop;

static void *flipper(void *unused) {
    (void)unused;
    // Half the time each way, so that any re-read after a check has even odds of the other path.
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        memcpy(shared.sun_path, denied, sizeof denied);
        __asm__ volatile("" ::: "memory");  // both stores must happen (no dead-store elimination)
        for (volatile int i = 0; i < 2000; i++) {}
        memcpy(shared.sun_path, allowed, sizeof allowed);
        __asm__ volatile("" ::: "memory");
        for (volatile int i = 0; i < 2000; i++) {}
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) usage("unix_connect_race PATH_ALLOWED PATH_DENIED");
    if (strlen(argv[1]) >= sizeof allowed || strlen(argv[2]) >= sizeof denied) usage("unix_connect_race (shorter paths)");
    strcpy(allowed, argv[1]);
    strcpy(denied, argv[2]);
    memcpy(shared.sun_path, allowed, sizeof allowed);
    pthread_t t;
    if (pthread_create(&t, NULL, flipper, NULL) != 0) blocked(errno, "pthread_create");
    int reached_allowed = 0, refused = 0, last_error = 0;
    for (int i = 0; i < 3000; i++) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) blocked(errno, "socket(AF_UNIX)");
        if (connect(s, (struct sockaddr *)&shared, sizeof shared) == 0) {
            char buf[8] = {0};
            if (read(s, buf, 6) > 0 && strncmp(buf, "denied", 6) == 0) {
                atomic_store(&stop, 1);
                escaped("connected to %s while racing (after %d connections)", denied, i);
            }
            reached_allowed++;
        } else {
            refused++;
            last_error = errno;
        }
        close(s);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    fprintf(stderr, "race: %d connections reached the allowed socket, %d refused\n", reached_allowed, refused);
    if (reached_allowed == 0) blocked(last_error ? last_error : EIO, "no connection reached the allowed socket either");
    blocked_why("every connection reached the allowed socket or was refused", "race for %s", denied);
}
