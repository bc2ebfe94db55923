// Riverhead's N-API binding over libsrt: one listening socket for many callers, an access hook that waits for
// JavaScript's verdict on each caller, and a poll call that the SRT worker thread drives. No JavaScript ever runs
// on libsrt's threads: the hook only queues the caller and sleeps on a condition variable, bounded in time.
#define _GNU_SOURCE
#include <node_api.h>
#include <srt/srt.h>
#include <srt/access_control.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STREAM_ID 512
#define MAX_PASSPHRASE 79
#define EPOLL_BATCH 64
/* A live SRT message carries at most this much payload (SRT_LIVE_MAX_PLSIZE). */
#define MAX_MESSAGE 1456
/* Bytes taken from one connection in one poll, so a fast caller cannot starve the others. */
#define MAX_READ_PER_POLL (1024 * 1024)

typedef enum { VERDICT_WAITING, VERDICT_ACCEPT, VERDICT_REJECT } verdict_t;

/* One caller inside the access hook. It lives on the hook's stack: the hook unlinks it before returning. */
typedef struct caller_request {
  struct caller_request *next;
  uint32_t id;
  SRTSOCKET sock;
  int picked; /* handed to JavaScript by a poll */
  verdict_t verdict;
  int reject_code;
  int latency_ms;
  char passphrase[MAX_PASSPHRASE + 1];
  char stream_id[MAX_STREAM_ID + 1];
  char peer[64];
} caller_request_t;

/* An accepted connection: received bytes wait here until they are flushed to JavaScript. */
typedef struct {
  SRTSOCKET sock;
  uint8_t *buf;
  size_t len;
  size_t cap;
  int64_t first_byte_ms;
  int closing;
  char reason[160];
} connection_t;

/* A caller granted by JavaScript whose handshake has not reached srt_accept yet. */
typedef struct {
  SRTSOCKET sock;
  int64_t deadline_ms;
} granted_t;

typedef struct {
  SRTSOCKET sock;
  int eid;
  /* Shared with libsrt's receive thread (the hook), under mu. */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  caller_request_t *requests;
  int request_count;
  uint32_t next_request_id;
  int slots_used; /* connections plus granted callers */
  int closing;
  /* Settings, fixed at listen. */
  int auth_timeout_ms;
  int max_pending;
  int max_connections;
  size_t flush_bytes;
  int flush_age_ms;
  int handshake_timeout_ms;
  /* Owned by the thread that calls poll / answer / drop / close (the SRT worker thread). */
  connection_t *connections;
  int connection_count;
  int connection_cap;
  granted_t *granted;
  int granted_count;
  int granted_cap;
  int closed;
} listener_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void format_peer(const struct sockaddr *sa, char *out, size_t size) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa && sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    snprintf(out, size, "%s:%d", host, port);
  } else if (sa && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    snprintf(out, size, "[%s]:%d", host, port);
  } else {
    snprintf(out, size, "unknown");
  }
}

/* ── the access hook (libsrt's receive thread) ─────────────────────────────────────────────────────────────── */

static int refuse(SRTSOCKET ns, int code) {
  srt_setrejectreason(ns, code);
  return -1;
}

static int on_caller(void *opaque, SRTSOCKET ns, int hs_version, const struct sockaddr *peer, const char *stream_id) {
  listener_t *l = (listener_t *)opaque;
  caller_request_t req;
  memset(&req, 0, sizeof req);
  req.sock = ns;
  req.verdict = VERDICT_WAITING;
  if (stream_id) {
    if (strlen(stream_id) > MAX_STREAM_ID) return refuse(ns, SRT_REJX_BAD_REQUEST);
    strcpy(req.stream_id, stream_id);
  }
  format_peer(peer, req.peer, sizeof req.peer);

  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += l->auth_timeout_ms / 1000;
  deadline.tv_nsec += (long)(l->auth_timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1000000000L;
  }

  pthread_mutex_lock(&l->mu);
  if (l->closing) {
    pthread_mutex_unlock(&l->mu);
    return refuse(ns, SRT_REJX_DOWN);
  }
  if (l->request_count >= l->max_pending || l->slots_used >= l->max_connections) {
    pthread_mutex_unlock(&l->mu);
    return refuse(ns, SRT_REJX_OVERLOAD);
  }
  req.id = ++l->next_request_id;
  req.next = l->requests;
  l->requests = &req;
  l->request_count++;
  while (req.verdict == VERDICT_WAITING && !l->closing) {
    if (pthread_cond_timedwait(&l->cond, &l->mu, &deadline) == ETIMEDOUT) break;
  }
  for (caller_request_t **p = &l->requests; *p; p = &(*p)->next) {
    if (*p == &req) {
      *p = req.next;
      break;
    }
  }
  l->request_count--;
  verdict_t verdict = req.verdict;
  pthread_mutex_unlock(&l->mu);

  if (verdict == VERDICT_WAITING) return refuse(ns, SRT_REJX_DOWN); /* no verdict in time, or closing */
  if (verdict == VERDICT_REJECT) return refuse(ns, req.reject_code);
  /* Set on the new socket before libsrt answers the handshake: its key material is checked against this
     passphrase, so a caller with the wrong one is refused by libsrt and never delivers a byte. */
  size_t pass_len = strlen(req.passphrase);
  if (pass_len > 0 && srt_setsockflag(ns, SRTO_PASSPHRASE, req.passphrase, (int)pass_len) != 0) {
    return refuse(ns, SRT_REJX_ISE);
  }
  int latency = req.latency_ms;
  if (srt_setsockflag(ns, SRTO_RCVLATENCY, &latency, sizeof latency) != 0) return refuse(ns, SRT_REJX_ISE);
  return 0;
}

/* ── N-API helpers ─────────────────────────────────────────────────────────────────────────────────────────── */

#define CALL(env, call)                                              \
  do {                                                               \
    if ((call) != napi_ok) {                                         \
      const napi_extended_error_info *info_ = NULL;                  \
      napi_get_last_error_info((env), &info_);                       \
      bool pending_ = false;                                         \
      napi_is_exception_pending((env), &pending_);                   \
      if (!pending_)                                                 \
        napi_throw_error((env), NULL, info_ && info_->error_message  \
                                          ? info_->error_message     \
                                          : "N-API call failed");    \
      return NULL;                                                   \
    }                                                                \
  } while (0)

static napi_value throw_srt(napi_env env, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, srt_getlasterror_str());
  napi_throw_error(env, NULL, message);
  return NULL;
}

static int get_int(napi_env env, napi_value obj, const char *name, int fallback) {
  napi_value v;
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return fallback;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return fallback;
  int32_t out;
  if (napi_get_value_int32(env, v, &out) != napi_ok) return fallback;
  return out;
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, size, &len) != napi_ok) return -1;
  return (int)len;
}

static void set_int(napi_env env, napi_value obj, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_double(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, name, v);
}

static void set_string(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, name, v);
}

static napi_value new_event(napi_env env, const char *type, SRTSOCKET sock) {
  napi_value obj;
  napi_create_object(env, &obj);
  set_string(env, obj, "type", type);
  set_int(env, obj, "socketId", sock);
  return obj;
}

static listener_t *get_listener(napi_env env, napi_value v) {
  listener_t *l = NULL;
  if (napi_get_value_external(env, v, (void **)&l) != napi_ok || !l) {
    napi_throw_type_error(env, NULL, "expected an SRT listener handle");
    return NULL;
  }
  return l;
}

/* ── connections (worker thread only) ──────────────────────────────────────────────────────────────────────── */

static connection_t *find_connection(listener_t *l, SRTSOCKET sock) {
  for (int i = 0; i < l->connection_count; i++)
    if (l->connections[i].sock == sock) return &l->connections[i];
  return NULL;
}

static int find_granted(listener_t *l, SRTSOCKET sock) {
  for (int i = 0; i < l->granted_count; i++)
    if (l->granted[i].sock == sock) return i;
  return -1;
}

static void release_slot(listener_t *l) {
  pthread_mutex_lock(&l->mu);
  if (l->slots_used > 0) l->slots_used--;
  pthread_mutex_unlock(&l->mu);
}

static void remove_granted(listener_t *l, int index) {
  l->granted[index] = l->granted[--l->granted_count];
}

static void remove_connection(listener_t *l, connection_t *c) {
  srt_epoll_remove_usock(l->eid, c->sock);
  srt_close(c->sock);
  free(c->buf);
  *c = l->connections[--l->connection_count];
  release_slot(l);
}

static int add_connection(listener_t *l, SRTSOCKET sock) {
  if (l->connection_count == l->connection_cap) {
    int cap = l->connection_cap ? l->connection_cap * 2 : 16;
    connection_t *grown = realloc(l->connections, sizeof(connection_t) * (size_t)cap);
    if (!grown) return -1;
    l->connections = grown;
    l->connection_cap = cap;
  }
  connection_t *c = &l->connections[l->connection_count];
  memset(c, 0, sizeof *c);
  c->sock = sock;
  c->cap = l->flush_bytes + MAX_MESSAGE;
  c->buf = malloc(c->cap);
  if (!c->buf) return -1;
  int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  if (srt_epoll_add_usock(l->eid, sock, &events) != 0) {
    free(c->buf);
    return -1;
  }
  l->connection_count++;
  return 0;
}

/* Appends {type:'data', socketId, chunk: ArrayBuffer} with the connection's buffered bytes. */
static int flush_connection(napi_env env, connection_t *c, napi_value out, uint32_t *n) {
  if (c->len == 0) return 0;
  void *data = NULL;
  napi_value chunk;
  if (napi_create_arraybuffer(env, c->len, &data, &chunk) != napi_ok) return -1;
  memcpy(data, c->buf, c->len);
  napi_value ev = new_event(env, "data", c->sock);
  napi_set_named_property(env, ev, "chunk", chunk);
  napi_set_element(env, out, (*n)++, ev);
  c->len = 0;
  c->first_byte_ms = 0;
  return 0;
}

static void read_connection(napi_env env, listener_t *l, connection_t *c, napi_value out, uint32_t *n) {
  size_t taken = 0;
  while (taken < MAX_READ_PER_POLL) {
    if (c->cap - c->len < MAX_MESSAGE && flush_connection(env, c, out, n) != 0) return;
    int got = srt_recvmsg(c->sock, (char *)c->buf + c->len, (int)(c->cap - c->len));
    if (got == SRT_ERROR) {
      if (srt_getlasterror(NULL) == SRT_EASYNCRCV) return;
      c->closing = 1;
      snprintf(c->reason, sizeof c->reason, "SRT connection closed: %s", srt_getlasterror_str());
      return;
    }
    if (got == 0) return;
    if (c->len == 0) c->first_byte_ms = now_ms();
    c->len += (size_t)got;
    taken += (size_t)got;
  }
}

static void accept_callers(napi_env env, listener_t *l, napi_value out, uint32_t *n) {
  for (;;) {
    struct sockaddr_storage addr;
    int addr_len = sizeof addr;
    SRTSOCKET sock = srt_accept(l->sock, (struct sockaddr *)&addr, &addr_len);
    if (sock == SRT_INVALID_SOCK) return;
    int g = find_granted(l, sock);
    if (g < 0) {
      /* Not one we granted (its verdict came too late, or it was dropped meanwhile). */
      srt_close(sock);
      continue;
    }
    remove_granted(l, g);
    bool no = false;
    srt_setsockflag(sock, SRTO_RCVSYN, &no, sizeof no);
    if (add_connection(l, sock) != 0) {
      srt_close(sock);
      release_slot(l);
      napi_value ev = new_event(env, "closed", sock);
      set_string(env, ev, "reason", "the origin could not set up the SRT connection");
      napi_set_element(env, out, (*n)++, ev);
      continue;
    }
    char peer[64];
    format_peer((struct sockaddr *)&addr, peer, sizeof peer);
    napi_value ev = new_event(env, "connected", sock);
    set_string(env, ev, "peer", peer);
    int latency = 0;
    int latency_len = sizeof latency;
    if (srt_getsockflag(sock, SRTO_RCVLATENCY, &latency, &latency_len) == 0) set_int(env, ev, "latencyMs", latency);
    napi_set_element(env, out, (*n)++, ev);
  }
}

/* ── exported functions ────────────────────────────────────────────────────────────────────────────────────── */

static void finalize_listener(napi_env env, void *data, void *hint);

/* listen(host, port, options) → handle */
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  if (argc < 3 || get_string(env, argv[0], host, sizeof host) < 0) {
    napi_throw_type_error(env, NULL, "listen(host, port, options)");
    return NULL;
  }
  int32_t port;
  CALL(env, napi_get_value_int32(env, argv[1], &port));

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    napi_throw_error(env, NULL, "listen: host must be an IPv4 address");
    return NULL;
  }

  listener_t *l = calloc(1, sizeof *l);
  if (!l) {
    napi_throw_error(env, NULL, "listen: out of memory");
    return NULL;
  }
  l->auth_timeout_ms = get_int(env, argv[2], "authTimeoutMs", 2500);
  l->max_pending = get_int(env, argv[2], "maxPending", 16);
  l->max_connections = get_int(env, argv[2], "maxConnections", 256);
  l->flush_bytes = (size_t)get_int(env, argv[2], "flushBytes", 64 * 1024);
  l->flush_age_ms = get_int(env, argv[2], "flushAgeMs", 20);
  l->handshake_timeout_ms = get_int(env, argv[2], "handshakeTimeoutMs", 3000);
  int backlog = get_int(env, argv[2], "backlog", 64);
  int peer_idle_ms = get_int(env, argv[2], "peerIdleTimeoutMs", 5000);
  int latency_ms = get_int(env, argv[2], "latencyMs", 120);

  pthread_condattr_t cattr;
  pthread_condattr_init(&cattr);
  pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
  pthread_cond_init(&l->cond, &cattr);
  pthread_condattr_destroy(&cattr);
  pthread_mutex_init(&l->mu, NULL);

  srt_startup();
  srt_setloglevel(get_int(env, argv[2], "logLevel", 2 /* LOG_CRIT */));
  l->sock = srt_create_socket();
  bool no = false;
  int live = SRTT_LIVE;
  if (l->sock == SRT_INVALID_SOCK || srt_setsockflag(l->sock, SRTO_TRANSTYPE, &live, sizeof live) != 0 ||
      srt_setsockflag(l->sock, SRTO_RCVSYN, &no, sizeof no) != 0 ||
      srt_setsockflag(l->sock, SRTO_RCVLATENCY, &latency_ms, sizeof latency_ms) != 0 ||
      srt_setsockflag(l->sock, SRTO_PEERIDLETIMEO, &peer_idle_ms, sizeof peer_idle_ms) != 0 ||
      srt_listen_callback(l->sock, on_caller, l) != 0 ||
      srt_bind(l->sock, (struct sockaddr *)&addr, sizeof addr) != 0 || srt_listen(l->sock, backlog) != 0) {
    napi_value err = throw_srt(env, "listen");
    if (l->sock != SRT_INVALID_SOCK) srt_close(l->sock);
    srt_cleanup();
    /* The hook may have been registered: the struct is never freed (see Close). */
    l->closed = 1;
    return err;
  }
  l->eid = srt_epoll_create();
  int events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  srt_epoll_add_usock(l->eid, l->sock, &events);

  napi_value handle;
  CALL(env, napi_create_external(env, l, finalize_listener, NULL, &handle));
  return handle;
}

/* localPort(handle) → the bound UDP port (useful with port 0) */
static napi_value LocalPort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  struct sockaddr_storage addr;
  int len = sizeof addr;
  if (srt_getsockname(l->sock, (struct sockaddr *)&addr, &len) != 0) return throw_srt(env, "getsockname");
  int port = addr.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&addr)->sin_port)
                                        : ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  napi_value v;
  CALL(env, napi_create_int32(env, port, &v));
  return v;
}

/* poll(handle, timeoutMs) → events: caller, connected, data, closed, failed */
static napi_value Poll(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  int32_t timeout;
  CALL(env, napi_get_value_int32(env, argv[1], &timeout));
  napi_value out;
  CALL(env, napi_create_array(env, &out));
  uint32_t n = 0;
  if (l->closed) return out;

  SRT_EPOLL_EVENT ready[EPOLL_BATCH];
  int count = srt_epoll_uwait(l->eid, ready, EPOLL_BATCH, timeout);
  for (int i = 0; i < count; i++) {
    if (ready[i].fd == l->sock) {
      accept_callers(env, l, out, &n);
      continue;
    }
    connection_t *c = find_connection(l, ready[i].fd);
    if (!c) continue;
    if (ready[i].events & SRT_EPOLL_IN) read_connection(env, l, c, out, &n);
    if ((ready[i].events & SRT_EPOLL_ERR) && !c->closing) {
      SRT_SOCKSTATUS state = srt_getsockstate(c->sock);
      if (state != SRTS_CONNECTED) {
        c->closing = 1;
        snprintf(c->reason, sizeof c->reason, "SRT connection %s",
                 state == SRTS_BROKEN ? "broken (the caller left or went silent)" : "closed");
      }
    }
  }

  int64_t now = now_ms();
  for (int i = 0; i < l->connection_count;) {
    connection_t *c = &l->connections[i];
    if (c->len >= l->flush_bytes || (c->len > 0 && (c->closing || now - c->first_byte_ms >= l->flush_age_ms))) {
      if (flush_connection(env, c, out, &n) != 0) return NULL;
    }
    if (c->closing) {
      napi_value ev = new_event(env, "closed", c->sock);
      set_string(env, ev, "reason", c->reason);
      napi_set_element(env, out, n++, ev);
      remove_connection(l, c); /* moves the last connection into slot i */
      continue;
    }
    i++;
  }

  /* Granted callers whose handshake failed after the verdict (wrong passphrase) or never completed. */
  for (int i = 0; i < l->granted_count;) {
    SRTSOCKET sock = l->granted[i].sock;
    SRT_SOCKSTATUS state = srt_getsockstate(sock);
    const char *reason = NULL;
    if (state == SRTS_NONEXIST || state == SRTS_BROKEN || state == SRTS_CLOSING || state == SRTS_CLOSED) {
      reason = "SRT handshake failed after the caller was authorized (wrong passphrase, or the caller gave up)";
    } else if (now > l->granted[i].deadline_ms) {
      reason = "SRT handshake did not complete in time";
      srt_close(sock);
    }
    if (!reason) {
      i++;
      continue;
    }
    napi_value ev = new_event(env, "failed", sock);
    set_string(env, ev, "reason", reason);
    napi_set_element(env, out, n++, ev);
    remove_granted(l, i);
    release_slot(l);
  }

  pthread_mutex_lock(&l->mu);
  for (caller_request_t *r = l->requests; r; r = r->next) {
    if (r->picked) continue;
    r->picked = 1;
    napi_value ev = new_event(env, "caller", r->sock);
    set_int(env, ev, "requestId", r->id);
    set_string(env, ev, "streamId", r->stream_id);
    set_string(env, ev, "peer", r->peer);
    napi_set_element(env, out, n++, ev);
  }
  pthread_mutex_unlock(&l->mu);
  return out;
}

/* answer(handle, requestId, verdict: {passphrase?, latencyMs} | {reject}) → false when the hook gave up already */
static napi_value Answer(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  uint32_t id;
  CALL(env, napi_get_value_uint32(env, argv[1], &id));
  int reject = get_int(env, argv[2], "reject", 0);
  int latency = get_int(env, argv[2], "latencyMs", 120);
  char passphrase[MAX_PASSPHRASE + 2] = "";
  bool has_pass = false;
  napi_has_named_property(env, argv[2], "passphrase", &has_pass);
  if (has_pass) {
    napi_value v;
    napi_valuetype t;
    CALL(env, napi_get_named_property(env, argv[2], "passphrase", &v));
    CALL(env, napi_typeof(env, v, &t));
    if (t == napi_string && get_string(env, v, passphrase, sizeof passphrase) < 0) return NULL;
  }
  size_t pass_len = strlen(passphrase);
  if (!reject && pass_len > 0 && (pass_len < 10 || pass_len > MAX_PASSPHRASE)) {
    reject = SRT_REJX_ISE; /* libsrt accepts 10–79 characters; anything else would fail inside the hook */
  }

  bool found = false;
  SRTSOCKET sock = SRT_INVALID_SOCK;
  pthread_mutex_lock(&l->mu);
  for (caller_request_t *r = l->requests; r; r = r->next) {
    if (r->id != id || r->verdict != VERDICT_WAITING) continue;
    found = true;
    sock = r->sock;
    if (reject) {
      r->verdict = VERDICT_REJECT;
      r->reject_code = reject;
    } else {
      r->verdict = VERDICT_ACCEPT;
      r->latency_ms = latency;
      memcpy(r->passphrase, passphrase, pass_len + 1);
      l->slots_used++;
    }
    pthread_cond_broadcast(&l->cond);
    break;
  }
  pthread_mutex_unlock(&l->mu);

  if (found && !reject) {
    if (l->granted_count == l->granted_cap) {
      int cap = l->granted_cap ? l->granted_cap * 2 : 16;
      granted_t *grown = realloc(l->granted, sizeof(granted_t) * (size_t)cap);
      if (!grown) {
        napi_throw_error(env, NULL, "answer: out of memory");
        return NULL;
      }
      l->granted = grown;
      l->granted_cap = cap;
    }
    l->granted[l->granted_count].sock = sock;
    l->granted[l->granted_count].deadline_ms = now_ms() + l->handshake_timeout_ms;
    l->granted_count++;
  }
  napi_value result;
  CALL(env, napi_get_boolean(env, found, &result));
  return result;
}

/* stats(handle, socketId) → interval counters since the previous call, or null */
static napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  int32_t sock;
  CALL(env, napi_get_value_int32(env, argv[1], &sock));
  napi_value result;
  SRT_TRACEBSTATS perf;
  if (!find_connection(l, sock) || srt_bstats(sock, &perf, 1) != 0) {
    CALL(env, napi_get_null(env, &result));
    return result;
  }
  CALL(env, napi_create_object(env, &result));
  set_double(env, result, "rttMs", perf.msRTT);
  set_double(env, result, "mbpsRecvRate", perf.mbpsRecvRate);
  set_int(env, result, "latencyMs", perf.msRcvTsbPdDelay);
  set_int(env, result, "pktRecv", perf.pktRecv);
  set_int(env, result, "pktRcvLoss", perf.pktRcvLoss);
  set_int(env, result, "pktRcvRetrans", perf.pktRcvRetrans);
  set_int(env, result, "pktRcvDrop", perf.pktRcvDrop);
  set_int(env, result, "pktRcvBelated", perf.pktRcvBelated);
  set_int(env, result, "pktRecvTotal", perf.pktRecvTotal);
  set_int(env, result, "pktRcvLossTotal", perf.pktRcvLossTotal);
  set_int(env, result, "pktRcvDropTotal", perf.pktRcvDropTotal);
  set_int(env, result, "byteRecvTotal", (int64_t)perf.byteRecvTotal);
  return result;
}

/* drop(handle, socketId) → true when it was a connection or a granted caller of this listener */
static napi_value Drop(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  int32_t sock;
  CALL(env, napi_get_value_int32(env, argv[1], &sock));
  bool dropped = false;
  connection_t *c = find_connection(l, sock);
  if (c) {
    remove_connection(l, c);
    dropped = true;
  } else {
    int g = find_granted(l, sock);
    if (g >= 0) {
      srt_close(sock);
      remove_granted(l, g);
      release_slot(l);
      dropped = true;
    }
  }
  napi_value result;
  CALL(env, napi_get_boolean(env, dropped, &result));
  return result;
}

static void close_listener(listener_t *l) {
  if (l->closed) return;
  l->closed = 1;
  pthread_mutex_lock(&l->mu);
  l->closing = 1;
  pthread_cond_broadcast(&l->cond); /* callers waiting in the hook are refused at once */
  pthread_mutex_unlock(&l->mu);
  while (l->connection_count > 0) remove_connection(l, &l->connections[0]);
  for (int i = 0; i < l->granted_count; i++) srt_close(l->granted[i].sock);
  l->granted_count = 0;
  srt_close(l->sock);
  srt_epoll_release(l->eid);
  srt_cleanup();
  free(l->connections);
  free(l->granted);
  l->connections = NULL;
  l->granted = NULL;
  l->connection_cap = l->granted_cap = 0;
  /* The listener_t itself is kept for the life of the process: it is the hook's opaque pointer, and freeing it
     would bet on libsrt never entering the hook again after srt_close. A closed listener costs ~200 bytes. */
}

/* close(handle): refuses waiting callers, closes every connection and the listening socket */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  close_listener(l);
  return NULL;
}

static void finalize_listener(napi_env env, void *data, void *hint) {
  close_listener((listener_t *)data);
}

/* ── a minimal caller, for tests that need to see the reject reason a refused caller receives ──────────────── */

/* callerConnect(host, port, {streamId, passphrase, latencyMs}) → socket id; the connection proceeds in the
   background (non-blocking), callerState tells how it went. */
static napi_value CallerConnect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[64];
  char stream_id[MAX_STREAM_ID + 1] = "";
  char passphrase[MAX_PASSPHRASE + 1] = "";
  if (argc < 3 || get_string(env, argv[0], host, sizeof host) < 0) {
    napi_throw_type_error(env, NULL, "callerConnect(host, port, options)");
    return NULL;
  }
  int32_t port;
  CALL(env, napi_get_value_int32(env, argv[1], &port));
  napi_value v;
  bool has = false;
  napi_has_named_property(env, argv[2], "streamId", &has);
  if (has && napi_get_named_property(env, argv[2], "streamId", &v) == napi_ok) get_string(env, v, stream_id, sizeof stream_id);
  has = false;
  napi_has_named_property(env, argv[2], "passphrase", &has);
  if (has && napi_get_named_property(env, argv[2], "passphrase", &v) == napi_ok) get_string(env, v, passphrase, sizeof passphrase);
  int latency = get_int(env, argv[2], "latencyMs", 120);

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    napi_throw_error(env, NULL, "callerConnect: host must be an IPv4 address");
    return NULL;
  }
  srt_startup();
  SRTSOCKET sock = srt_create_socket();
  bool no = false;
  if (sock == SRT_INVALID_SOCK || srt_setsockflag(sock, SRTO_RCVSYN, &no, sizeof no) != 0 ||
      srt_setsockflag(sock, SRTO_SNDSYN, &no, sizeof no) != 0 ||
      srt_setsockflag(sock, SRTO_LATENCY, &latency, sizeof latency) != 0 ||
      (stream_id[0] && srt_setsockflag(sock, SRTO_STREAMID, stream_id, (int)strlen(stream_id)) != 0) ||
      (passphrase[0] && srt_setsockflag(sock, SRTO_PASSPHRASE, passphrase, (int)strlen(passphrase)) != 0)) {
    napi_value err = throw_srt(env, "callerConnect");
    if (sock != SRT_INVALID_SOCK) srt_close(sock);
    srt_cleanup();
    return err;
  }
  if (srt_connect(sock, (struct sockaddr *)&addr, sizeof addr) == SRT_ERROR) {
    napi_value err = throw_srt(env, "callerConnect");
    srt_close(sock);
    srt_cleanup();
    return err;
  }
  napi_value result;
  CALL(env, napi_create_int32(env, sock, &result));
  return result;
}

static const char *state_name(SRT_SOCKSTATUS s) {
  switch (s) {
    case SRTS_INIT: return "init";
    case SRTS_OPENED: return "opened";
    case SRTS_LISTENING: return "listening";
    case SRTS_CONNECTING: return "connecting";
    case SRTS_CONNECTED: return "connected";
    case SRTS_BROKEN: return "broken";
    case SRTS_CLOSING: return "closing";
    case SRTS_CLOSED: return "closed";
    default: return "nonexist";
  }
}

/* callerState(socketId) → {state, rejectReason, rejectText} */
static napi_value CallerState(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t sock;
  CALL(env, napi_get_value_int32(env, argv[0], &sock));
  napi_value result;
  CALL(env, napi_create_object(env, &result));
  set_string(env, result, "state", state_name(srt_getsockstate(sock)));
  int reason = srt_getrejectreason(sock);
  set_int(env, result, "rejectReason", reason);
  set_string(env, result, "rejectText", srt_rejectreason_str(reason));
  return result;
}

/* callerSend(socketId, Uint8Array) → bytes sent, or -1 when the socket would block or is broken */
static napi_value CallerSend(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t sock;
  CALL(env, napi_get_value_int32(env, argv[0], &sock));
  napi_typedarray_type type;
  size_t length;
  void *data;
  CALL(env, napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL));
  if (length > 1316) length = 1316;
  int sent = srt_sendmsg2(sock, (const char *)data, (int)length, NULL);
  napi_value result;
  CALL(env, napi_create_int32(env, sent == SRT_ERROR ? -1 : sent, &result));
  return result;
}

static napi_value CallerClose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t sock;
  CALL(env, napi_get_value_int32(env, argv[0], &sock));
  if (srt_close(sock) == 0) srt_cleanup();
  return NULL;
}

static napi_value Version(napi_env env, napi_callback_info info) {
  uint32_t v = srt_getversion();
  char text[32];
  snprintf(text, sizeof text, "%u.%u.%u", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
  napi_value result;
  CALL(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"listen", NULL, Listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localPort", NULL, LocalPort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"poll", NULL, Poll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"answer", NULL, Answer, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, Stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"drop", NULL, Drop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"callerConnect", NULL, CallerConnect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"callerState", NULL, CallerState, NULL, NULL, NULL, napi_enumerable, NULL},
      {"callerSend", NULL, CallerSend, NULL, NULL, NULL, napi_enumerable, NULL},
      {"callerClose", NULL, CallerClose, NULL, NULL, NULL, napi_enumerable, NULL},
      {"version", NULL, Version, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
