// keyctl: the kernel keyring (creates this process's own process keyring, gone when it exits).
#include "hostile.h"

#include <linux/keyctl.h>

int main(void) {
    long id = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1L);
    if (id < 0) blocked(errno, "keyctl(KEYCTL_GET_KEYRING_ID)");
    escaped("keyctl(KEYCTL_GET_KEYRING_ID) (keyring %ld)", id);
}
