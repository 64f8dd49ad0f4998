/*
 * What the FUSE layer's four files share: layer-nodes.c (the node table: the kernel's node ids
 * and the BACKING paths they stand for), layer.c (the FUSE requests), layer-control.c (the
 * control thread, which performs the host's creates, deletes and renames on MOUNTPOINT, and the
 * daemon's start) and layer-recent.c (the names guest processes just changed through the layer).
 * layer.c says what the layer is for.
 */
#ifndef HOTMOUNT_LAYER_H
#define HOTMOUNT_LAYER_H
#include "helper.h"
#include <linux/fuse.h>

#define LAYER_BUF (1 << 20)
#define LAYER_TTL 1

/* layer-control.c */
extern const char *layer_backing;
extern char layer_mp[PATH_MAX];
extern int layer_fd;
extern volatile pid_t layer_ctl_tid;
/* The control thread's operation in flight: the name it creates (answers ENOENT to its lookup)
   and the name it deletes or renames from (answered from the node table, or a ghost). */
extern char layer_absent[PATH_MAX], layer_present[PATH_MAX];
extern volatile int layer_present_dir;

/* layer-nodes.c */
void layer_nodes_init(const struct stat *root);
uint32_t layer_hash(ino_t ino);
char *layer_rel(uint64_t id, char *out, size_t size);
char *layer_path(uint64_t id, const char *name, char *out, size_t size);
uint64_t layer_node(uint64_t parent, const char *name, const struct stat *st);
void layer_forget(uint64_t id, uint64_t count);
void layer_move(uint64_t olddir, const char *from, uint64_t newdir, const char *to);
uint64_t layer_known(uint64_t parent, const char *name, struct stat *st);
struct stat layer_ghost_stat(uint64_t parent, const char *name, mode_t mode);

/* layer-recent.c */
void layer_recent_note(uint64_t parent, const char *name, int appeared);
void layer_recent_done(uint64_t parent, const char *name, int ok, ino_t ino);
int layer_recent_guest(const char *rel, int appeared, ino_t ino);

/* layer.c */
void layer_reply(uint64_t unique, int err, const void *data, size_t len);
void layer_request(const struct fuse_in_header *h, const char *arg);

#endif
