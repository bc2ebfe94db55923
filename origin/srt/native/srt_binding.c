// Riverhead's N-API binding over libsrt: one listening socket for many callers, an access hook that decides each
// caller on its own in O(1), and a poll call that the SRT worker thread drives. No JavaScript ever runs on libsrt's
// threads, and the hook never waits: it parses the streamid, derives the stream's passphrase from its key
// (HMAC-SHA256 under a secret the edge shares, see shared/srt-passphrase.ts) and sets it on the new socket. A caller
// without that passphrase fails the encryption handshake inside libsrt; whether the stream may go live is asked of
// the edge only after the handshake, so a storm of bogus callers costs the port's receive thread microseconds each
// and the edge nothing.
#define _GNU_SOURCE
#include <node_api.h>
#include <srt/srt.h>
#include <srt/access_control.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STREAM_ID 512
/* Same bound as the edge's authorize request and origin/srt/streamid.ts. */
#define MAX_KEY 200
#define MAX_SECRET 256
/* libsrt takes passphrases of 10–79 characters. */
#define MAX_PASSPHRASE 79
/* 16 bytes of the HMAC, as hex: 32 characters, inside libsrt's 10–79. */
#define PASSPHRASE_BYTES 16
#define EPOLL_BATCH 64
/* A live SRT message carries at most this much payload (SRT_LIVE_MAX_PLSIZE). */
#define MAX_MESSAGE 1456
/* Bytes taken from one connection in one poll, so a fast caller cannot starve the others. */
#define MAX_READ_PER_POLL (1024 * 1024)
/* Per-address caller budgets: a fixed table, so memory is bounded whatever the number of addresses. */
#define ADDRESS_BUCKETS 4096
/* Stream keys the origin refused after a handshake (disabled, already live...): answered in the hook for a while. */
#define REFUSAL_SLOTS 1024

/* The label keeps this HMAC apart from every other use of the secret; shared/srt-passphrase.ts has the same one. */
static const char PASSPHRASE_LABEL[] = "riverhead srt passphrase v1\n";

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

typedef struct {
  uint8_t addr[16];
  int64_t window_start_ms;
  int count;
} address_budget_t;

typedef struct {
  uint64_t key_hash;
  int code;
  int64_t until_ms;
} refusal_t;

/* What the hook did, for the worker's periodic summary (never per caller, never a streamid). */
typedef struct {
  atomic_llong handed_to_libsrt; /* passphrase set; libsrt then checks the caller's key material */
  atomic_llong bad_stream_id;
  atomic_llong bad_mode;
  atomic_llong overload;
  atomic_llong refused_known; /* a stream key refused a moment ago */
  atomic_llong down;
  atomic_llong hook_ns_total;
  atomic_llong hook_ns_max;
} hook_counters_t;

typedef struct {
  SRTSOCKET sock;
  int eid;
  /* Settings, fixed at listen; read by the hook. */
  uint8_t secret[MAX_SECRET];
  size_t secret_len;
  int max_connections;
  int callers_per_address;
  int caller_window_ms;
  size_t flush_bytes;
  int flush_age_ms;
  /* Shared between the hook (libsrt's receive thread) and the worker thread. */
  atomic_int closing;
  /* Non-zero: every new caller is refused with this reject reason (the origin is draining, or full). */
  atomic_int refuse_all;
  atomic_int live_connections;
  hook_counters_t counters;
  pthread_mutex_t refusals_mu;
  refusal_t refusals[REFUSAL_SLOTS];
  /* The hook's own: libsrt runs a listener's hook on its one receive thread only. */
  address_budget_t budgets[ADDRESS_BUCKETS];
  /* Owned by the thread that calls poll / drop / close (the SRT worker thread). */
  connection_t *connections;
  int connection_count;
  int connection_cap;
  int closed;
} listener_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
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

static uint64_t fnv1a(const uint8_t *data, size_t len) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= data[i];
    h *= 1099511628211ULL;
  }
  return h;
}

/* ── the streamid and the passphrase (pure; the same rules as origin/srt/streamid.ts) ──────────────────────── */

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes into out (at most MAX_STREAM_ID + 1 bytes); 0 when every byte is printable ASCII. */
static int decode_stream_id(const char *raw, char *out) {
  size_t o = 0;
  for (size_t i = 0; raw[i]; i++) {
    unsigned char c = (unsigned char)raw[i];
    if (c == '%') {
      int hi = hex_value(raw[i + 1]);
      int lo = hi < 0 ? -1 : hex_value(raw[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = (unsigned char)(hi * 16 + lo);
      i += 2;
    }
    if (c < 0x20 || c > 0x7e) return -1;
    out[o++] = (char)c;
  }
  out[o] = 0;
  return 0;
}

static int valid_key(const char *key, size_t len) {
  if (len == 0 || len > MAX_KEY) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c < 0x21 || c > 0x7e || c == ',' || c == '=') return 0;
  }
  return 1;
}

/* The stream key a streamid names, copied into key (MAX_KEY + 1 bytes): 0, or the SRT reject reason. */
static int stream_key_of(const char *raw, char *key) {
  if (!raw || !raw[0]) return SRT_REJX_BAD_REQUEST;
  if (strlen(raw) > MAX_STREAM_ID) return SRT_REJX_BAD_REQUEST;
  char text[MAX_STREAM_ID + 1];
  if (decode_stream_id(raw, text) != 0) return SRT_REJX_BAD_REQUEST;
  const char *r = NULL, *m = NULL;
  size_t r_len = 0, m_len = 0;
  if (strncmp(text, "#!::", 4) != 0) {
    if (strncmp(text, "#!", 2) == 0) return SRT_REJX_BAD_REQUEST;
    r = text;
    r_len = strlen(text);
  } else {
    /* key=value items separated by commas; a key given twice is malformed. */
    const char *names[MAX_STREAM_ID / 2 + 1];
    size_t name_lens[MAX_STREAM_ID / 2 + 1];
    int items = 0;
    const char *item = text + 4;
    for (;;) {
      const char *end = strchr(item, ',');
      size_t len = end ? (size_t)(end - item) : strlen(item);
      const char *eq = memchr(item, '=', len);
      if (!eq || eq == item) return SRT_REJX_BAD_REQUEST;
      size_t name_len = (size_t)(eq - item);
      for (int i = 0; i < items; i++)
        if (name_lens[i] == name_len && memcmp(names[i], item, name_len) == 0) return SRT_REJX_BAD_REQUEST;
      names[items] = item;
      name_lens[items++] = name_len;
      const char *value = eq + 1;
      size_t value_len = len - name_len - 1;
      if (name_len == 1 && item[0] == 'r') r = value, r_len = value_len;
      if (name_len == 1 && item[0] == 'm') m = value, m_len = value_len;
      if (!end) break;
      item = end + 1;
    }
    /* Without m, publishing is all this port does. */
    if (m && !(m_len == 7 && memcmp(m, "publish", 7) == 0)) {
      if ((m_len == 7 && memcmp(m, "request", 7) == 0) || (m_len == 13 && memcmp(m, "bidirectional", 13) == 0))
        return SRT_REJX_BAD_MODE;
      return SRT_REJX_BAD_REQUEST;
    }
    if (!r) return SRT_REJX_BAD_REQUEST;
  }
  if (!valid_key(r, r_len)) return SRT_REJX_BAD_REQUEST;
  memcpy(key, r, r_len);
  key[r_len] = 0;
  return 0;
}

/* hex(HMAC-SHA256(secret, label ‖ key))[0..32]: what the edge hands out as the stream's srtSecret. */
static int derive_passphrase(const uint8_t *secret, size_t secret_len, const char *key, char *out) {
  uint8_t message[sizeof PASSPHRASE_LABEL + MAX_KEY];
  size_t label_len = sizeof PASSPHRASE_LABEL - 1;
  size_t key_len = strlen(key);
  memcpy(message, PASSPHRASE_LABEL, label_len);
  memcpy(message + label_len, key, key_len);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha256(), secret, (int)secret_len, message, label_len + key_len, mac, &mac_len) || mac_len < PASSPHRASE_BYTES)
    return -1;
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < PASSPHRASE_BYTES; i++) {
    out[2 * i] = digits[mac[i] >> 4];
    out[2 * i + 1] = digits[mac[i] & 15];
  }
  out[2 * PASSPHRASE_BYTES] = 0;
  return 0;
}

/* ── the access hook (libsrt's receive thread: O(1), no waiting) ──────────────────────────────────────────── */

static int address_of(const struct sockaddr *sa, uint8_t out[16]) {
  memset(out, 0, 16);
  if (sa && sa->sa_family == AF_INET) {
    memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    return 4;
  }
  if (sa && sa->sa_family == AF_INET6) {
    memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    return 16;
  }
  return 0;
}

/* One more caller from this address in its window: 0 once the budget is spent. Two addresses that share a bucket
   share its budget until the window ends (bounded memory beats exactness under a flood of addresses). */
static int within_address_budget(listener_t *l, const struct sockaddr *peer, int64_t now) {
  uint8_t addr[16];
  int len = address_of(peer, addr);
  address_budget_t *b = &l->budgets[fnv1a(addr, (size_t)(len ? len : 16)) % ADDRESS_BUCKETS];
  if (now - b->window_start_ms >= l->caller_window_ms || (memcmp(b->addr, addr, 16) != 0 && b->count == 0)) {
    memcpy(b->addr, addr, 16);
    b->window_start_ms = now;
    b->count = 0;
  }
  return ++b->count <= l->callers_per_address;
}

static int remembered_refusal(listener_t *l, uint64_t key_hash, int64_t now) {
  int code = 0;
  pthread_mutex_lock(&l->refusals_mu);
  refusal_t *r = &l->refusals[key_hash % REFUSAL_SLOTS];
  if (r->key_hash == key_hash && r->until_ms > now) code = r->code;
  pthread_mutex_unlock(&l->refusals_mu);
  return code;
}

static void count_max(atomic_llong *max, long long value) {
  long long seen = atomic_load(max);
  while (value > seen && !atomic_compare_exchange_weak(max, &seen, value)) {
  }
}

static int refuse(SRTSOCKET ns, atomic_llong *counter, int code) {
  atomic_fetch_add(counter, 1);
  srt_setrejectreason(ns, code);
  return -1;
}

static int decide_caller(listener_t *l, SRTSOCKET ns, const struct sockaddr *peer, const char *stream_id) {
  hook_counters_t *n = &l->counters;
  if (atomic_load(&l->closing)) return refuse(ns, &n->down, SRT_REJX_DOWN);
  int refusing = atomic_load(&l->refuse_all);
  if (refusing) return refuse(ns, &n->down, refusing);
  int64_t now = now_ms();
  if (!within_address_budget(l, peer, now) || atomic_load(&l->live_connections) >= l->max_connections)
    return refuse(ns, &n->overload, SRT_REJX_OVERLOAD);
  char key[MAX_KEY + 1];
  int bad = stream_key_of(stream_id, key);
  if (bad) return refuse(ns, bad == SRT_REJX_BAD_MODE ? &n->bad_mode : &n->bad_stream_id, bad);
  int known = remembered_refusal(l, fnv1a((const uint8_t *)key, strlen(key)), now);
  if (known) return refuse(ns, &n->refused_known, known);
  char passphrase[2 * PASSPHRASE_BYTES + 1];
  if (derive_passphrase(l->secret, l->secret_len, key, passphrase) != 0 ||
      srt_setsockflag(ns, SRTO_PASSPHRASE, passphrase, (int)strlen(passphrase)) != 0) {
    return refuse(ns, &n->down, SRT_REJX_ISE);
  }
  atomic_fetch_add(&n->handed_to_libsrt, 1);
  return 0;
}

static int on_caller(void *opaque, SRTSOCKET ns, int hs_version, const struct sockaddr *peer, const char *stream_id) {
  listener_t *l = (listener_t *)opaque;
  int64_t started = now_ns();
  int result = decide_caller(l, ns, peer, stream_id);
  long long took = now_ns() - started;
  atomic_fetch_add(&l->counters.hook_ns_total, took);
  count_max(&l->counters.hook_ns_max, took);
  return result;
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

static void remove_connection(listener_t *l, connection_t *c) {
  srt_epoll_remove_usock(l->eid, c->sock);
  srt_close(c->sock);
  free(c->buf);
  *c = l->connections[--l->connection_count];
  atomic_store(&l->live_connections, l->connection_count);
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
  atomic_store(&l->live_connections, l->connection_count);
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
    /* Past the hook and the encryption handshake: this caller has the passphrase of the key in its streamid. */
    bool no = false;
    srt_setsockflag(sock, SRTO_RCVSYN, &no, sizeof no);
    if (l->connection_count >= l->max_connections || add_connection(l, sock) != 0) {
      srt_close(sock); /* JavaScript never heard of it: nothing to tell */
      continue;
    }
    char peer[64];
    format_peer((struct sockaddr *)&addr, peer, sizeof peer);
    char stream_id[MAX_STREAM_ID + 1] = "";
    int stream_id_len = MAX_STREAM_ID;
    if (srt_getsockflag(sock, SRTO_STREAMID, stream_id, &stream_id_len) != 0) stream_id_len = 0;
    stream_id[stream_id_len < 0 ? 0 : stream_id_len > MAX_STREAM_ID ? MAX_STREAM_ID : stream_id_len] = 0;
    napi_value ev = new_event(env, "connected", sock);
    set_string(env, ev, "peer", peer);
    set_string(env, ev, "streamId", stream_id);
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

  char secret[MAX_SECRET + 1] = "";
  int secret_len = -1;
  bool has_secret = false;
  napi_value secret_value;
  if (napi_has_named_property(env, argv[2], "passphraseSecret", &has_secret) == napi_ok && has_secret &&
      napi_get_named_property(env, argv[2], "passphraseSecret", &secret_value) == napi_ok) {
    secret_len = get_string(env, secret_value, secret, sizeof secret);
  }
  if (secret_len <= 0 || secret_len >= MAX_SECRET) {
    napi_throw_type_error(env, NULL, "listen: options.passphraseSecret must be a string of 1-255 bytes");
    return NULL;
  }

  listener_t *l = calloc(1, sizeof *l);
  if (!l) {
    napi_throw_error(env, NULL, "listen: out of memory");
    return NULL;
  }
  memcpy(l->secret, secret, (size_t)secret_len);
  l->secret_len = (size_t)secret_len;
  memset(secret, 0, sizeof secret);
  l->max_connections = get_int(env, argv[2], "maxConnections", 256);
  l->callers_per_address = get_int(env, argv[2], "callersPerAddress", 20);
  l->caller_window_ms = get_int(env, argv[2], "callerWindowMs", 10000);
  l->flush_bytes = (size_t)get_int(env, argv[2], "flushBytes", 64 * 1024);
  l->flush_age_ms = get_int(env, argv[2], "flushAgeMs", 20);
  int backlog = get_int(env, argv[2], "backlog", 64);
  int peer_idle_ms = get_int(env, argv[2], "peerIdleTimeoutMs", 5000);
  int latency_ms = get_int(env, argv[2], "latencyMs", 120);

  pthread_mutex_init(&l->refusals_mu, NULL);

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

/* poll(handle, timeoutMs) → events: connected, data, closed */
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

  return out;
}

/* rememberRefusal(handle, streamKey, rejectCode, forMs): the hook refuses this key with that code for a while. Set
   when the edge refused a caller that had the right passphrase (disabled, already live...), so its encoder's
   retries get the reason at once and cost the edge one call per period, not one per attempt. */
static napi_value RememberRefusal(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  char key[MAX_KEY + 2];
  int key_len = argc >= 4 ? get_string(env, argv[1], key, sizeof key) : -1;
  int32_t code, for_ms;
  if (key_len <= 0 || key_len > MAX_KEY || napi_get_value_int32(env, argv[2], &code) != napi_ok ||
      napi_get_value_int32(env, argv[3], &for_ms) != napi_ok) {
    napi_throw_type_error(env, NULL, "rememberRefusal(handle, streamKey, rejectCode, forMs)");
    return NULL;
  }
  uint64_t hash = fnv1a((const uint8_t *)key, (size_t)key_len);
  pthread_mutex_lock(&l->refusals_mu);
  refusal_t *r = &l->refusals[hash % REFUSAL_SLOTS];
  r->key_hash = hash;
  r->code = code;
  r->until_ms = now_ms() + for_ms;
  pthread_mutex_unlock(&l->refusals_mu);
  return NULL;
}

/* refuseAll(handle, rejectCode) → the hook refuses every new caller with rejectCode; 0 accepts callers again */
static napi_value RefuseAll(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  int32_t code;
  if (argc < 2 || napi_get_value_int32(env, argv[1], &code) != napi_ok || code < 0) {
    napi_throw_type_error(env, NULL, "refuseAll(handle, rejectCode)");
    return NULL;
  }
  atomic_store(&l->refuse_all, code);
  return NULL;
}

/* counters(handle) → what the access hook did since listen (totals; the caller computes deltas) */
static napi_value Counters(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener_t *l = get_listener(env, argv[0]);
  if (!l) return NULL;
  hook_counters_t *c = &l->counters;
  napi_value result;
  CALL(env, napi_create_object(env, &result));
  set_int(env, result, "handedToLibsrt", atomic_load(&c->handed_to_libsrt));
  set_int(env, result, "badStreamId", atomic_load(&c->bad_stream_id));
  set_int(env, result, "badMode", atomic_load(&c->bad_mode));
  set_int(env, result, "overload", atomic_load(&c->overload));
  set_int(env, result, "refusedKnown", atomic_load(&c->refused_known));
  set_int(env, result, "down", atomic_load(&c->down));
  set_double(env, result, "hookMsTotal", (double)atomic_load(&c->hook_ns_total) / 1e6);
  set_double(env, result, "hookMsMax", (double)atomic_load(&c->hook_ns_max) / 1e6);
  return result;
}

/* handshakeVerdict(secret, streamId) → {passphrase} | {reject}: the hook's pure core, for tests that hold the edge's
   derivation and origin/srt/streamid.ts to the same answers. */
static napi_value HandshakeVerdict(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char secret[MAX_SECRET + 1];
  char stream_id[MAX_STREAM_ID + 2];
  int secret_len = argc >= 2 ? get_string(env, argv[0], secret, sizeof secret) : -1;
  if (secret_len <= 0 || get_string(env, argv[1], stream_id, sizeof stream_id) < 0) {
    napi_throw_type_error(env, NULL, "handshakeVerdict(secret, streamId)");
    return NULL;
  }
  napi_value result;
  CALL(env, napi_create_object(env, &result));
  char key[MAX_KEY + 1];
  int bad = stream_key_of(stream_id, key);
  char passphrase[2 * PASSPHRASE_BYTES + 1];
  if (!bad && derive_passphrase((const uint8_t *)secret, (size_t)secret_len, key, passphrase) != 0) bad = SRT_REJX_ISE;
  if (bad) set_int(env, result, "reject", bad);
  else set_string(env, result, "passphrase", passphrase);
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
  }
  napi_value result;
  CALL(env, napi_get_boolean(env, dropped, &result));
  return result;
}

static void close_listener(listener_t *l) {
  if (l->closed) return;
  l->closed = 1;
  atomic_store(&l->closing, 1); /* callers reaching the hook from now on are refused */
  while (l->connection_count > 0) remove_connection(l, &l->connections[0]);
  srt_close(l->sock);
  srt_epoll_release(l->eid);
  srt_cleanup();
  free(l->connections);
  l->connections = NULL;
  l->connection_cap = 0;
  memset(l->secret, 0, sizeof l->secret);
  /* The listener_t itself is kept for the life of the process: it is the hook's opaque pointer, and freeing it
     would bet on libsrt never entering the hook again after srt_close. A closed listener costs ~160 KB (its
     fixed per-address and refusal tables); an origin has one. */
}

/* close(handle): refuses new callers, closes every connection and the listening socket */
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

/* callerConnect(host, port, {streamId, passphrase, latencyMs, localAddress}) → socket id; the connection proceeds in the
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
  char local[64] = "";
  has = false;
  napi_has_named_property(env, argv[2], "localAddress", &has);
  if (has && napi_get_named_property(env, argv[2], "localAddress", &v) == napi_ok) get_string(env, v, local, sizeof local);

  struct sockaddr_in addr, local_addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  memset(&local_addr, 0, sizeof local_addr);
  local_addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 || (local[0] && inet_pton(AF_INET, local, &local_addr.sin_addr) != 1)) {
    napi_throw_error(env, NULL, "callerConnect: host and localAddress must be IPv4 addresses");
    return NULL;
  }
  srt_startup();
  SRTSOCKET sock = srt_create_socket();
  bool no = false;
  if (sock == SRT_INVALID_SOCK || srt_setsockflag(sock, SRTO_RCVSYN, &no, sizeof no) != 0 ||
      srt_setsockflag(sock, SRTO_SNDSYN, &no, sizeof no) != 0 ||
      srt_setsockflag(sock, SRTO_LATENCY, &latency, sizeof latency) != 0 ||
      (stream_id[0] && srt_setsockflag(sock, SRTO_STREAMID, stream_id, (int)strlen(stream_id)) != 0) ||
      (passphrase[0] && srt_setsockflag(sock, SRTO_PASSPHRASE, passphrase, (int)strlen(passphrase)) != 0) ||
      (local[0] && srt_bind(sock, (struct sockaddr *)&local_addr, sizeof local_addr) != 0)) {
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
      {"rememberRefusal", NULL, RememberRefusal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"refuseAll", NULL, RefuseAll, NULL, NULL, NULL, napi_enumerable, NULL},
      {"counters", NULL, Counters, NULL, NULL, NULL, napi_enumerable, NULL},
      {"handshakeVerdict", NULL, HandshakeVerdict, NULL, NULL, NULL, napi_enumerable, NULL},
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
