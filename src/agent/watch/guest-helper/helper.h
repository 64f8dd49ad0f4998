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
int watches_open(void);
void watches_print_events(void);
void add_tree(const char *dir, uint32_t mask, int depth);
int under(const char *path, const char *root);
void drop_root(const char *root);
unsigned helper_hash(const char *s);
double now_s(void);
int guest_made(const char *path, long long size, long long mtime);
int guest_recent(const char *path);
void drain_layer_op(void);
void drain(const char *own);

/* input.c */
int input_ended(void);
void input_poll(void);
void input_wait(void);
void unescape(char *s);
char *split_field(char *s);
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
/* How a mount is replayed on: reads only (read-only mount), writes, or a burst's chmods. */
enum replay_how { REPLAY_READ, REPLAY_WRITE, REPLAY_BURST };
void replay_file(enum replay_how how, long long size, long long mtime, long long ns, const char *path);
void replay_dir(enum replay_how how, long long mtime, const char *path);
int is_own(const char *path);
int batch_line(char *line);
int batch_pending(void);
void run_batch(void);

#endif
