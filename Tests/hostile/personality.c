// personality(ADDR_NO_RANDOMIZE): turns off ASLR for what it executes next.
#include "hostile.h"

#include <sys/personality.h>

int main(void) {
    int old = personality(ADDR_NO_RANDOMIZE);
    if (old == -1) blocked(errno, "personality(ADDR_NO_RANDOMIZE)");
    escaped("personality(ADDR_NO_RANDOMIZE) (was 0x%x)", old);
}
