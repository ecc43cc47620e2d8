/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Starting one task process for one task instance, confined:
 *   - as the app's uid, gid and supplementary groups, with no_new_privs;
 *   - a clean environment (PATH, LANG, DEVBG_*);
 *   - reduced priority: nice, SCHED_BATCH or SCHED_IDLE, idle I/O class;
 *   - in its own cgroup v2 (<v2 root>/devbg/instance-<id>, or under a
 *     configured parent) where that hierarchy is writable, so that the whole
 *     tree can be killed at once (cgroup.kill); otherwise (or when the
 *     parent cannot be made: a warning, not a failure) by its process group
 *     and its descendants (killpg, and a walk of /proc: the task and devbgd
 *     are child subreapers, so double-forked processes stay findable). It
 *     always gets its own session, which also detaches it from any terminal;
 *   - fds 0, 1, 2 (/dev/null or given log fds), the device at 3 and the
 *     control channel at 4, and nothing else.
 *
 * The decisions (environment, cgroup root and paths, cgroup.events) are
 * pure functions; devbg_spawn_task() does the I/O. The child between fork()
 * and exec() makes only async-signal-safe calls (devbgd has threads), with
 * everything it needs prepared before the fork.
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "devbg-names.h"

G_BEGIN_DECLS

#define DEVBG_SPAWN_DEVICE_FD  DEVBG_TASK_DEVICE_FD
#define DEVBG_SPAWN_CHANNEL_FD DEVBG_TASK_CHANNEL_FD
#define DEVBG_SPAWN_DEFAULT_NICE 10

typedef enum {
  DEVBG_SPAWN_SCHED_BATCH = 0, /* default: low priority, still gets CPU under load */
  DEVBG_SPAWN_SCHED_IDLE  = 1, /* only when the CPU is otherwise idle */
} DevbgSpawnSched;

typedef struct {
  const char        *executable;   /* absolute path */
  const char *const *argv;         /* argv[0] first; NULL: { executable } */
  uid_t              uid;
  gid_t              gid;
  const gid_t       *groups;       /* supplementary groups, see devbg_spawn_lookup_groups() */
  gsize              n_groups;
  int                device_fd;    /* becomes fd 3; -1: /dev/null there */
  int                channel_fd;   /* becomes fd 4; required */
  int                stdout_fd;    /* -1: /dev/null */
  int                stderr_fd;    /* -1: /dev/null */
  const char        *instance_id;  /* [A-Za-z0-9_-]{1,64}: names the cgroup */
  int                nice;         /* e.g. DEVBG_SPAWN_DEFAULT_NICE */
  DevbgSpawnSched    sched;
  /* The cgroup v2 directory under which instance-<id> is made. NULL: the
   * default, <v2 root>/devbg, if a v2 hierarchy is mounted and writable.
   * "": no cgroup, process group only. */
  const char        *cgroup_parent;
  /* cpu.weight for the instance cgroup (1..10000), written only where the
   * cpu controller is enabled; 0: leave the default. */
  guint              cpu_weight;
  /* "NAME=value" entries added to the clean environment; may be NULL. */
  const char *const *extra_env;
} DevbgSpawnOptions;

typedef struct {
  pid_t  pid;
  int    pidfd;        /* -1 where pidfd_open() is not available */
  pid_t  pgid;         /* == pid: the task leads its own session and group */
  char  *cgroup_path;  /* the instance's cgroup directory, or NULL */
  gboolean reaped;     /* its exit status was collected: pid and pgid are no longer its */
} DevbgTaskProcess;

void devbg_task_process_free (DevbgTaskProcess *process); /* closes the pidfd; kills nothing */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgTaskProcess, devbg_task_process_free)

/* A setup step in the child (between fork and exec, the exec itself
 * included) failed: the code is the GIOErrorEnum of its errno, the message
 * names the program, the step and the errno's text, nothing of devbgd's
 * own (so it may be shown to the app whose task it is). Every other
 * failure of devbg_spawn_task() is in G_IO_ERROR. */
#define DEVBG_SPAWN_CHILD_ERROR (devbg_spawn_child_error_quark ())
GQuark devbg_spawn_child_error_quark (void);

/* Starts the task; returns once it has exec()ed (or says which setup step
 * failed in the child, and why: DEVBG_SPAWN_CHILD_ERROR). */
DevbgTaskProcess *devbg_spawn_task (const DevbgSpawnOptions *options,
                                    GError                 **error);

/* A start in two steps: everything made ready (the options checked, the
 * cgroup made, the environment, fds 0-2 and 4) while the device still
 * opens, then the start itself with the device once it is open. The
 * options' device_fd is not used by devbg_spawn_prepare(). */
typedef struct _DevbgSpawnPlan DevbgSpawnPlan;

DevbgSpawnPlan   *devbg_spawn_prepare (const DevbgSpawnOptions *options,
                                       GError                 **error);
/* Starts the plan with @device_fd as fd 3 (-1: /dev/null), as
 * devbg_spawn_task() does; once per plan, which is spent either way. */
DevbgTaskProcess *devbg_spawn_start (DevbgSpawnPlan *plan,
                                     int             device_fd,
                                     GError        **error);
/* Frees a plan; one that never started takes its cgroup with it. */
void              devbg_spawn_plan_free (DevbgSpawnPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DevbgSpawnPlan, devbg_spawn_plan_free)

/* SIGKILLs the whole tree: cgroup.kill where the task has a cgroup (which
 * also catches processes that left the process group). Without one: its
 * process group, and every descendant (the task is a child subreaper, so
 * a double-forked, setsid() process stays below it), and every orphan
 * devbgd adopted (a child of devbgd that is no task it started: left by a
 * task that is gone), stopped first, then killed. Does not reap the task:
 * the caller waits for the pid; adopted orphans are reaped here, at once
 * and by a main-loop timer. */
gboolean devbg_task_process_kill (DevbgTaskProcess *process,
                                  GError          **error);

/* The caller collected the task's exit status (its GChildWatch, or
 * waitpid()): its pid is no longer its, and no longer devbgd's to skip
 * when reaping adopted orphans. */
void devbg_task_process_reaped (DevbgTaskProcess *process);

/* Reaps the dead orphans devbgd adopted as a child subreaper (never a task
 * it started); returns how many adopted orphans are still alive. */
guint devbg_spawn_reap_orphans (void);

/* Removes the instance's cgroup directory once it is empty (no-op without
 * a cgroup). */
gboolean devbg_task_process_remove_cgroup (DevbgTaskProcess *process,
                                           GError          **error);

/* The supplementary groups of @user (getgrouplist), @gid included. */
gboolean devbg_spawn_lookup_groups (const char *user,
                                    gid_t       gid,
                                    GArray    **out_groups,
                                    GError    **error);

/* ---- pure helpers */

/* The clean environment of a task: PATH=/usr/bin:/bin, LANG=C.UTF-8,
 * DEVBG_INSTANCE_ID=@instance_id, DEVBG_DEVICE_FD=3, DEVBG_CHANNEL_FD=4. */
char **devbg_spawn_build_environ (const char *instance_id);

/* Whether @id may name a cgroup directory (no '/', no "..", bounded). */
gboolean devbg_spawn_instance_id_is_valid (const char *id);

/* The mount point of the first cgroup2 file system in /proc/self/mounts
 * text (/sys/fs/cgroup on a pure v2 system, /sys/fs/cgroup/unified on a
 * hybrid one), octal escapes decoded; NULL if there is none. */
char *devbg_cgroup_v2_root_from_mounts (const char *mounts_text);

/* Parses cgroup.events text: TRUE with *populated set, or FALSE if there is
 * no valid "populated" line. */
gboolean devbg_cgroup_parse_populated (const char *events_text,
                                       gboolean   *populated);

/* ---- cgroup I/O */

/* The cgroup v2 mount point on this system, or NULL. */
char *devbg_cgroup_find_v2_root (void);

/* The default parent of instance cgroups: <v2 root>/devbg, or NULL. */
char *devbg_cgroup_default_parent (void);

/* Whether the cgroup at @cgroup_path has no process left (in it or below),
 * from cgroup.events. For finding leftover task processes after devbgd
 * restarts. */
gboolean devbg_cgroup_is_empty (const char *cgroup_path,
                                gboolean   *empty,
                                GError    **error);

/* The instance-<id> directories under @parent (their IDs), for the same. */
GPtrArray *devbg_cgroup_list_instances (const char *parent,
                                        GError    **error);

/* cgroup.kill on @cgroup_path. */
gboolean devbg_cgroup_kill (const char *cgroup_path,
                            GError    **error);

G_END_DECLS
