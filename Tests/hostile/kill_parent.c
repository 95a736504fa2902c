// Signals the parent (brig) with SIGTERM: if that works brig visibly dies or shuts down, which
// the test also checks (brig must exit with this fixture's own status, 1).
#include "hostile.h"

#include <signal.h>

int main(void) {
    pid_t ppid = getppid();
    if (kill(ppid, SIGTERM) != 0) blocked(errno, "kill(parent %d, SIGTERM)", (int)ppid);
    escaped("kill(parent %d, SIGTERM)", (int)ppid);
}
