// OpenSSL's libssl, for `brig audit forward` over TLS (RFC 5425), and the socket calls Swift
// cannot make directly (variadic ioctl, function-like macros of libssl).
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

// Bytes in the socket's send queue that the peer's TCP has not acknowledged yet (SIOCOUTQ); -1 on error.
static inline int brig_unacked_bytes(int fd) {
    int n = 0;
    return ioctl(fd, SIOCOUTQ, &n) < 0 ? -1 : n;
}

static inline long brig_ssl_set_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline long brig_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}
