/*
 * What the guest helper's files share (main.c has the protocol and says what the helper is for):
 * watches.c keeps the inotify watches on the mounts and the memory of guest-made changes,
 * input.c reads the agent's lines (ahead, for U) and knows the tracked mount points, replay.c
 * carries out the replays, one path at a time or a burst on several threads.
 */
#ifndef HOTMOUNT_GUEST_HELPER_H
#define HOTMOUNT_GUEST_HELPER_H
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define GUEST_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
#define TEST_MASK (IN_ALL_EVENTS)

/* watches.c */
extern int ifd;        /* the helper's inotify instance */
extern int watch_mode; /* --watch: the test watcher */
void add_tree(const char *dir, uint32_t mask, int depth);
int under(const char *path, const char *root);
void drop_root(const char *root);
unsigned hash(const char *s);
int guest_made(const char *path, long long size, long long mtime);
int guest_recent(const char *path);
void drain_layer_op(void);
void drain(const char *own);

/* input.c */
extern int in_eof; /* the agent closed the channel: nothing more to do */
void unescape(char *s);
char *split_field(char *s);
void fill(int wait);
int next_line(char *line, size_t size);
void track_root(const char *root);
void untrack_root(const char *root);
int replayable(const char *path);

/* kinds.c */
void kinds_on(const char *root);
void kinds_off(const char *root);
int kinds_command(char op, char *rest);

/* layer.c */
int layer_main(const char *backing, const char *mp);

/* replay.c */
void replay_file(int writable, int burst, long long size, long long mtime, long long ns, const char *path, int checked);
void replay_dir(int writable, long long mtime, const char *path);
int is_own(const char *path);
int batch_line(char *line);
int batch_pending(void);
void run_batch(void);

#endif
