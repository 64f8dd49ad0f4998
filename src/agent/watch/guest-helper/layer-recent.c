/*
 * The FUSE layer's record of the names guest processes created, deleted or renamed through it in
 * the last LAYER_RECENT_S seconds. The host reports those changes back (its watcher sees the
 * layer's own calls on BACKING), and the helper skips a report it knows as the guest's; but the
 * helper learns of the guest's change from its inotify queue, which may not hold the event yet
 * when the report comes (the guest's request is still between BACKING and the kernel). The layer
 * made the change itself, so it knows for certain: the control thread does nothing for a name
 * recorded here, instead of raising the event a second time.
 *
 * Written by the request thread (before the call on BACKING, so that no report can come first),
 * read by the control thread; one mutex.
 */
#include "layer.h"

#define LAYER_RECENT 1024
#define LAYER_RECENT_S 10.0

static struct {
  char *rel;
  int appeared; /* 1: the name was created or renamed to; 0: deleted or renamed away */
  ino_t ino;    /* what appeared there; 0 (any) while the guest's call is in flight or when not known */
  double at;
} recent[LAYER_RECENT];
static unsigned next_slot;
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;

/* parent/name as the control lines name it ("/a/b"), or 0 when it does not fit. */
static int recent_rel(uint64_t parent, const char *name, char *out, size_t size) {
  char rel[PATH_MAX];
  if (!layer_rel(parent, rel, sizeof rel)) return 0;
  int n = snprintf(out, size, "%s/%s", rel, name);
  return n > 0 && (size_t)n < size;
}

/* The record of rel (each name has at most one), or -1; caller holds recent_lock. */
static int recent_find(const char *rel) {
  for (int i = 0; i < LAYER_RECENT; i++)
    if (recent[i].rel && !strcmp(recent[i].rel, rel)) return i;
  return -1;
}

/* The record of rel, or the oldest slot, taken for it; caller holds recent_lock. */
static unsigned recent_slot(const char *rel) {
  int found = recent_find(rel);
  if (found >= 0) return (unsigned)found;
  unsigned slot = next_slot;
  next_slot = (next_slot + 1) % LAYER_RECENT;
  free(recent[slot].rel);
  recent[slot].rel = strdup(rel);
  return slot;
}

/* A guest request is about to make parent/name appear (1) or go away (0) on BACKING. */
void layer_recent_note(uint64_t parent, const char *name, int appeared) {
  char rel[PATH_MAX];
  if (!recent_rel(parent, name, rel, sizeof rel)) return;
  pthread_mutex_lock(&recent_lock);
  unsigned slot = recent_slot(rel);
  recent[slot].appeared = appeared;
  recent[slot].ino = 0;
  recent[slot].at = now_s();
  pthread_mutex_unlock(&recent_lock);
}

/* That request is done: ok, with the inode that appeared (0: not known); or it failed, and
   nothing changed, so no host report is its echo. */
void layer_recent_done(uint64_t parent, const char *name, int ok, ino_t ino) {
  char rel[PATH_MAX];
  if (!recent_rel(parent, name, rel, sizeof rel)) return;
  pthread_mutex_lock(&recent_lock);
  int i = recent_find(rel);
  if (i >= 0 && ok)
    recent[i].ino = ino;
  else if (i >= 0)
    recent[i].at = 0;
  pthread_mutex_unlock(&recent_lock);
}

/* A guest process made rel appear (appeared 1; the inode ino, when given) or go away (0) less
   than LAYER_RECENT_S ago. */
int layer_recent_guest(const char *rel, int appeared, ino_t ino) {
  pthread_mutex_lock(&recent_lock);
  int i = recent_find(rel);
  int hit = i >= 0 && now_s() - recent[i].at <= LAYER_RECENT_S && recent[i].appeared == appeared && (!ino || !recent[i].ino || recent[i].ino == ino);
  pthread_mutex_unlock(&recent_lock);
  return hit;
}
