// The floor for egress time to first byte (scripts/bench-egress): the least an HTTP forward
// proxy does for a new plain-HTTP connection, in C, with no sandbox, no rules and no records.
// It reads the request head, connects to the numeric host:port of its absolute-form target,
// sends the head on in origin form and copies bytes both ways (a thread for the answer).
// What brig adds over this is brig's; what this adds over a direct fetch is any proxy's (the
// extra hop, and the far end's accept moved after the request).
// usage: floor_proxy          (prints its port on 127.0.0.1, then serves until killed)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pair { int from, to; };

static void *copy(void *arg) {
    struct pair *p = arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(p->from, buf, sizeof buf)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t m = write(p->to, buf + done, (size_t)(n - done));
            if (m <= 0) goto out;
            done += m;
        }
    }
out:
    shutdown(p->to, SHUT_WR);
    return NULL;
}

static void *serve(void *arg) {
    int client = (int)(long)arg, one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char head[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof head - 1) {
        ssize_t n = read(client, head + len, sizeof head - 1 - len);
        if (n <= 0) goto done;
        len += (size_t)n;
        head[len] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    // "GET http://A.B.C.D:PORT/path HTTP/1.1\r\n..."
    char *scheme = strstr(head, " http://");
    if (!end || !scheme) goto done;
    char *host = scheme + 8, *colon = strchr(host, ':'), *path = strchr(host, '/');
    if (!colon || !path || colon > path) goto done;
    *colon = 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1)) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) goto done;
    int up = socket(AF_INET, SOCK_STREAM, 0);
    if (up < 0) goto done;
    if (connect(up, (struct sockaddr *)&a, sizeof a) != 0) {
        close(up);
        goto done;
    }
    setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char out[16384];
    size_t method = (size_t)(scheme - head) + 1;
    int n = snprintf(out, sizeof out, "%.*s%s", (int)method, head, path);
    if (n < 0 || (size_t)n >= sizeof out || write(up, out, (size_t)n) != n) {
        close(up);
        goto done;
    }
    pthread_t t;
    struct pair down = { up, client }, upward = { client, up };
    if (pthread_create(&t, NULL, copy, &down) != 0) {
        close(up);
        goto done;
    }
    copy(&upward);
    pthread_join(t, NULL);
    close(up);
done:
    close(client);
    return NULL;
}

int main(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 256) != 0 || getsockname(l, (struct sockaddr *)&a, &alen) != 0) {
        perror("floor_proxy");
        return 1;
    }
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) continue;
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(long)c) != 0) close(c);
        else pthread_detach(t);
    }
}
