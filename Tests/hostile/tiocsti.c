// ioctl(0, TIOCSTI): pushes a character into the input of the terminal on fd 0 (typing commands
// into the user's shell). The character is a harmless space.
#include "hostile.h"

#include <sys/ioctl.h>

int main(void) {
    char c = ' ';
    if (ioctl(0, TIOCSTI, &c) != 0) blocked(errno, "ioctl(0, TIOCSTI)");
    escaped("ioctl(0, TIOCSTI) (a character injected)");
}
