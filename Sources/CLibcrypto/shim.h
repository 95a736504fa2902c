// OpenSSL's libcrypto, for one thing: SHA-256 with a hash state that is a plain C struct, so the
// audit writer's HMAC starts each record from its key's precomputed pad states by copying 112
// bytes on the stack (swift-crypto's SHA256 copies its state into a new heap object instead,
// and that cost as much as hashing a record). The SHA256_* calls are deprecated in OpenSSL 3
// in favour of EVP, which allocates per digest; they remain exported and fully supported.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/sha.h>
