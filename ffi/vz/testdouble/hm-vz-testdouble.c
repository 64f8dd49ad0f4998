/*
 * TEST DOUBLE of the hotmount-vz C ABI (include/hotmount-vz.h), for Linux CI. There is no VM and
 * no Virtualization.framework here: a struct remembers a state and N share slots, so the bun:ffi
 * bindings (ffi/vz.ts) and the VZ driver (drivers/vz) can be exercised against the same symbols,
 * argument types, return codes, out-parameters and last-error strings as the real dylib.
 *
 * What it imitates on purpose: blocking calls with deadlines (a configurable delay longer than the
 * timeout returns HM_VZ_ETIMEDOUT and the work "finishes later"), share bookkeeping with the
 * placeholder reported as "", a stop reason after the guest powers off, a vsock descriptor.
 * What it does not: its JSON reading is a key scan, not a parser (it checks the keys the real
 * builder needs, not their nesting), and nothing here says anything about VZ's own behaviour.
 *
 * Test-only controls are the hm_vz_td_* functions; the real dylib has none of them.
 */
#define _GNU_SOURCE
#include "hotmount-vz.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SHARES 64
#define PATH_CAP 4096

struct share {
  char path[PATH_CAP]; /* "" = the placeholder */
  int read_only;
};

struct hm_vz_vm {
  char *config;
  char placeholder[PATH_CAP];
  int spare;
  int vsock;
  int state;
  double ready_at; /* a start that timed out completes at this time */
  int start_delay_ms;
  char stop_reason[256];
  struct share shares[MAX_SHARES];
};

static __thread char last_error[2048];

static int fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return code;
}

static int ok(void) {
  last_error[0] = 0;
  return HM_VZ_OK;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* The value after "key": in json, or NULL. A key scan, not a parser (see the header comment). */
static const char *value_of(const char *json, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(json, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
  return p;
}

/* Copies a JSON string value (handling \" \\ \/ only) into out; 0 on success. */
static int string_of(const char *json, const char *key, char *out, size_t cap) {
  const char *p = value_of(json, key);
  if (!p || *p != '"') return -1;
  size_t n = 0;
  for (p++; *p && *p != '"'; p++) {
    char c = *p;
    if (c == '\\') {
      p++;
      if (*p != '"' && *p != '\\' && *p != '/') return -1;
      c = *p;
    }
    if (n + 1 >= cap) return -1;
    out[n++] = c;
  }
  if (*p != '"') return -1;
  out[n] = 0;
  return 0;
}

static int is_dir(const char *path) {
  struct stat st;
  return path && path[0] == '/' && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int settle(hm_vz_vm *vm) {
  if (vm->state == HM_VZ_STATE_STARTING && now_ms() >= vm->ready_at) vm->state = HM_VZ_STATE_RUNNING;
  return vm->state;
}

/* -DHM_VZ_TD_ABI=n builds a double that claims another ABI, to test the version check. */
#ifndef HM_VZ_TD_ABI
#define HM_VZ_TD_ABI HM_VZ_ABI_VERSION
#endif
HM_VZ_EXPORT int32_t hm_vz_abi_version(void) { return HM_VZ_TD_ABI; }
HM_VZ_EXPORT int32_t hm_vz_is_supported(void) { return 1; }
HM_VZ_EXPORT const char *hm_vz_last_error(void) { return last_error; }

HM_VZ_EXPORT int32_t hm_vz_create(const char *json, hm_vz_vm **out, int32_t timeout_ms) {
  (void)timeout_ms;
  if (!json || !out) return fail(HM_VZ_EINVAL, "hm_vz_create: config and out must not be NULL");
  *out = NULL;
  if (json[0] != '{') return fail(HM_VZ_EINVAL, "config is not a JSON object");
  const char *need[] = {"cpus", "memoryMiB", "boot", "spareShares"};
  for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
    if (!value_of(json, need[i])) return fail(HM_VZ_EINVAL, "config: \"%s\" is required", need[i]);
  }
  hm_vz_vm *vm = calloc(1, sizeof *vm);
  if (!vm) return fail(HM_VZ_EFAIL, "out of memory");
  int rc = HM_VZ_OK;
  vm->spare = atoi(value_of(json, "spareShares"));
  if (vm->spare < 0 || vm->spare > MAX_SHARES) {
    rc = fail(HM_VZ_EINVAL, "config: \"spareShares\" must be within 0..64, not %d", vm->spare);
  } else if (vm->spare > 0 && (string_of(json, "placeholder", vm->placeholder, sizeof vm->placeholder) != 0 || !is_dir(vm->placeholder))) {
    rc = fail(HM_VZ_EINVAL, "config: shared path %s is not a directory", vm->placeholder[0] ? vm->placeholder : "(placeholder missing)");
  }
  if (rc != HM_VZ_OK) {
    free(vm);
    return rc;
  }
  const char *vs = value_of(json, "vsock");
  vm->vsock = vs && strncmp(vs, "true", 4) == 0;
  vm->config = strdup(json);
  vm->state = HM_VZ_STATE_STOPPED;
  *out = vm;
  return ok();
}

HM_VZ_EXPORT void hm_vz_free(hm_vz_vm *vm) {
  if (!vm) return;
  free(vm->config);
  free(vm);
}

HM_VZ_EXPORT int32_t hm_vz_start(hm_vz_vm *vm, int32_t timeout_ms) {
  if (settle(vm) != HM_VZ_STATE_STOPPED && vm->state != HM_VZ_STATE_ERROR) return fail(HM_VZ_ESTATE, "the VM cannot start in its current state");
  vm->stop_reason[0] = 0;
  if (vm->start_delay_ms > timeout_ms) {
    /* Like the real queue: the caller gives up at the deadline, the start completes later. */
    vm->state = HM_VZ_STATE_STARTING;
    vm->ready_at = now_ms() + vm->start_delay_ms;
    sleep_ms(timeout_ms);
    return fail(HM_VZ_ETIMEDOUT, "starting the VM did not finish within %d ms", timeout_ms);
  }
  sleep_ms(vm->start_delay_ms);
  vm->state = HM_VZ_STATE_RUNNING;
  return ok();
}

HM_VZ_EXPORT int32_t hm_vz_request_stop(hm_vz_vm *vm, int32_t timeout_ms) {
  (void)timeout_ms;
  if (settle(vm) != HM_VZ_STATE_RUNNING) return fail(HM_VZ_ESTATE, "the VM cannot take a stop request in its current state");
  /* The double's guest obeys at once. */
  vm->state = HM_VZ_STATE_STOPPED;
  snprintf(vm->stop_reason, sizeof vm->stop_reason, "the guest powered off");
  return ok();
}

HM_VZ_EXPORT int32_t hm_vz_stop(hm_vz_vm *vm, int32_t timeout_ms) {
  (void)timeout_ms;
  int s = settle(vm);
  if (s != HM_VZ_STATE_RUNNING && s != HM_VZ_STATE_STARTING && s != HM_VZ_STATE_PAUSED) return fail(HM_VZ_ESTATE, "the VM cannot stop in its current state");
  vm->state = HM_VZ_STATE_STOPPED;
  return ok();
}

HM_VZ_EXPORT int32_t hm_vz_state(hm_vz_vm *vm, int32_t timeout_ms) {
  (void)timeout_ms;
  int s = settle(vm);
  snprintf(last_error, sizeof last_error, "%s", vm->stop_reason);
  return s;
}

HM_VZ_EXPORT int32_t hm_vz_share_count(hm_vz_vm *vm) { return vm->spare; }

static int check_index(hm_vz_vm *vm, int32_t index) {
  if (index >= 0 && index < vm->spare) return 1;
  fail(HM_VZ_EINVAL, "share index %d is out of range (the VM has %d spare devices)", index, vm->spare);
  return 0;
}

HM_VZ_EXPORT int32_t hm_vz_set_share(hm_vz_vm *vm, int32_t index, const char *path, int32_t read_only, int32_t timeout_ms) {
  (void)timeout_ms;
  if (!check_index(vm, index)) return HM_VZ_EINVAL;
  if (!is_dir(path)) return fail(HM_VZ_EINVAL, "%s is not an absolute path to a directory", path ? path : "(null)");
  if (strlen(path) >= PATH_CAP) return fail(HM_VZ_EINVAL, "path too long");
  snprintf(vm->shares[index].path, PATH_CAP, "%s", path);
  vm->shares[index].read_only = read_only != 0;
  return ok();
}

HM_VZ_EXPORT int32_t hm_vz_clear_share(hm_vz_vm *vm, int32_t index, int32_t timeout_ms) {
  (void)timeout_ms;
  if (!check_index(vm, index)) return HM_VZ_EINVAL;
  vm->shares[index].path[0] = 0;
  vm->shares[index].read_only = 1;
  return ok();
}

HM_VZ_EXPORT int32_t hm_vz_get_share(hm_vz_vm *vm, int32_t index, char *buf, int32_t buf_len, int32_t *read_only, int32_t timeout_ms) {
  (void)timeout_ms;
  if (!check_index(vm, index)) return HM_VZ_EINVAL;
  if (!buf || buf_len <= 0 || !read_only) return fail(HM_VZ_EINVAL, "hm_vz_get_share: buf and read_only must not be NULL");
  const struct share *s = &vm->shares[index];
  size_t n = strlen(s->path);
  if (n + 1 > (size_t)buf_len) return fail(HM_VZ_EINVAL, "hm_vz_get_share: the path needs %zu bytes, buf has %d", n + 1, buf_len);
  memcpy(buf, s->path, n + 1);
  *read_only = s->path[0] ? s->read_only : 1;
  ok();
  return (int32_t)n;
}

HM_VZ_EXPORT int32_t hm_vz_vsock_connect(hm_vz_vm *vm, uint32_t port, int32_t timeout_ms) {
  (void)timeout_ms;
  if (!vm->vsock) return fail(HM_VZ_ESTATE, "the VM has no vsock device (config \"vsock\": false)");
  if (settle(vm) != HM_VZ_STATE_RUNNING) return fail(HM_VZ_EFAIL, "vsock port %u: the VM is not running", port);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return fail(HM_VZ_EFAIL, "socketpair: %s", strerror(errno));
  /* The double's "guest" says one line and hangs up, so the caller can prove the fd works. */
  char line[80];
  int n = snprintf(line, sizeof line, "hotmount-vz test double, port %u\n", port);
  if (write(sv[1], line, (size_t)n) != n) {
    close(sv[0]);
    close(sv[1]);
    return fail(HM_VZ_EFAIL, "write: %s", strerror(errno));
  }
  close(sv[1]);
  ok();
  return sv[0];
}

/* ---- test-only controls (not part of the ABI) ---- */

/* Makes the next starts take `ms`, so a test can run into the start timeout. */
HM_VZ_EXPORT void hm_vz_td_set_start_delay(hm_vz_vm *vm, int32_t ms) { vm->start_delay_ms = ms; }

/* The guest powers itself off, as if it ran `poweroff`. */
HM_VZ_EXPORT void hm_vz_td_guest_poweroff(hm_vz_vm *vm) {
  vm->state = HM_VZ_STATE_STOPPED;
  snprintf(vm->stop_reason, sizeof vm->stop_reason, "the guest powered off");
}

/* The config JSON exactly as it crossed the FFI boundary. */
HM_VZ_EXPORT const char *hm_vz_td_config(hm_vz_vm *vm) { return vm->config; }
