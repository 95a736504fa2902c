/// libcap for Swift: capability names and the highest capability the kernel knows.
#include <sys/capability.h>
