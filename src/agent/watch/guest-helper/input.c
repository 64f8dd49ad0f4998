/*
 * The guest helper's input: the agent's lines, read ahead of the one being carried out, so that
 * a U (the mount is being removed) takes effect the moment it arrives: replays still queued for
 * that mount are skipped rather than holding it busy. Also the tracked mount points (R..U).
 */
#include "helper.h"

#define INBUF (1 << 20)
#define MAX_ROOTS 256
static char inbuf[INBUF];
static size_t in_len = 0, in_off = 0, in_scan = 0;
static int in_eof = 0;

void unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      *o++ = *s == 'n' ? '\n' : *s;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

/* Ends the field s starts with at its first unescaped space; returns the next field, or NULL. */
char *split_field(char *s) {
  for (; *s; s++) {
    if (*s == '\\' && s[1])
      s++;
    else if (*s == ' ') {
      *s = 0;
      return s + 1;
    }
  }
  return NULL;
}

/* A set of mount points: the tracked ones (R..U), and those whose U has been read but not yet reached. */
struct roots {
  char *r[MAX_ROOTS];
};
static struct roots active, leaving;

static int in_roots(const struct roots *set, const char *path) {
  for (int i = 0; i < MAX_ROOTS; i++)
    if (set->r[i] && under(path, set->r[i])) return 1;
  return 0;
}

static void set_root(struct roots *set, const char *root, int on) {
  for (int i = 0; i < MAX_ROOTS; i++)
    if (set->r[i] && !strcmp(set->r[i], root)) {
      if (on) return;
      free(set->r[i]);
      set->r[i] = NULL;
    }
  for (int i = 0; on && i < MAX_ROOTS; i++)
    if (!set->r[i]) {
      set->r[i] = strdup(root);
      return;
    }
}

/* A replay is made only under a tracked mount point that is not about to go. */
int replayable(const char *path) { return in_roots(&active, path) && !in_roots(&leaving, path); }

/* The agent closed the channel: nothing more to do. */
int input_ended(void) { return in_eof; }

/* Reads what stdin has within timeout_ms (-1: until something comes), and notes every complete
   "U" line read. */
static void input_fill(int timeout_ms) {
  if (in_eof) return;
  if (in_off && (timeout_ms < 0 || in_len == INBUF)) {
    memmove(inbuf, inbuf + in_off, in_len - in_off);
    in_len -= in_off;
    in_scan -= in_off;
    in_off = 0;
  }
  if (in_len == INBUF) return;
  struct pollfd pf = {0, POLLIN, 0};
  if (poll(&pf, 1, timeout_ms) <= 0) return;
  ssize_t n = read(0, inbuf + in_len, INBUF - in_len);
  if (n <= 0) {
    in_eof = 1;
    return;
  }
  in_len += (size_t)n;
  char *nl;
  while ((nl = memchr(inbuf + in_scan, '\n', in_len - in_scan))) {
    size_t len = (size_t)(nl - (inbuf + in_scan));
    if (len > 2 && inbuf[in_scan] == 'U' && inbuf[in_scan + 1] == ' ' && len < PATH_MAX) {
      char root[PATH_MAX];
      memcpy(root, inbuf + in_scan + 2, len - 2);
      root[len - 2] = 0;
      unescape(root);
      set_root(&leaving, root, 1);
    }
    in_scan += len + 1;
  }
}

/* What stdin has now, without waiting. */
void input_poll(void) { input_fill(0); }

/* Waits for stdin (main's poll said it has something, or has ended). */
void input_wait(void) { input_fill(-1); }

/* The next complete line (copied into `line`), or 0 when none is buffered. */
int next_line(char *line, size_t size) {
  char *nl = memchr(inbuf + in_off, '\n', in_len - in_off);
  if (!nl) {
    if (in_len - in_off == INBUF) in_off = in_scan = in_len = 0; /* an over-long line: dropped */
    return 0;
  }
  size_t len = (size_t)(nl - (inbuf + in_off));
  if (len >= size) len = size - 1;
  memcpy(line, inbuf + in_off, len);
  line[len] = 0;
  in_off = (size_t)(nl - inbuf) + 1;
  return 1;
}

void track_root(const char *root) { set_root(&active, root, 1); }

/* Its U has been reached: no longer tracked, and no longer on its way out. */
void untrack_root(const char *root) {
  set_root(&active, root, 0);
  set_root(&leaving, root, 0);
}
