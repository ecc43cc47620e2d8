/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Starting a confined task process. See devbg-spawn.h for what it gets.
 */
#define G_LOG_DOMAIN "devbg-spawn"

#include "devbg-spawn.h"
#include "devbg-error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <linux/capability.h> /* struct __user_cap_*, for the raw capget() */
#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP */

/* <linux/ioprio.h> is not in every kernel header package; the ABI is fixed. */
#define DEVBG_IOPRIO_CLASS_SHIFT 13
#define DEVBG_IOPRIO_CLASS_IDLE  3
#define DEVBG_IOPRIO_WHO_PROCESS 1

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Everything the child uses is set up above this fd number in the parent,
 * so that no dup2() onto 0..4 overwrites a source not yet moved. */
#define HIGH_FD_BASE 10

/* ---- pure helpers */

gboolean
devbg_spawn_instance_id_is_valid (const char *id)
{
  gsize len;

  if (id == NULL)
    return FALSE;
  len = strlen (id);
  if (len == 0 || len > 64)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (id[i]) && id[i] != '-' && id[i] != '_')
      return FALSE;
  return TRUE;
}

char **
devbg_spawn_build_environ (const char *instance_id)
{
  /* Nothing of devbgd's own environment: only what a task needs to run
   * and to find its fds. */
  char **env = g_new0 (char *, 6);

  env[0] = g_strdup ("PATH=/usr/bin:/bin");
  env[1] = g_strdup ("LANG=C.UTF-8");
  env[2] = g_strdup_printf ("DEVBG_INSTANCE_ID=%s", instance_id);
  env[3] = g_strdup_printf ("DEVBG_DEVICE_FD=%d", DEVBG_SPAWN_DEVICE_FD);
  env[4] = g_strdup_printf ("DEVBG_CHANNEL_FD=%d", DEVBG_SPAWN_CHANNEL_FD);
  return env;
}

/* /proc/self/mounts escapes space, tab, newline and backslash as \ooo. */
static char *
unescape_mount_field (const char *field)
{
  GString *out = g_string_new (NULL);

  for (const char *p = field; *p != '\0'; p++)
    {
      if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
          p[3] >= '0' && p[3] <= '7')
        {
          g_string_append_c (out, (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0')));
          p += 3;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

char *
devbg_cgroup_v2_root_from_mounts (const char *mounts_text)
{
  g_auto(GStrv) lines = NULL;

  if (mounts_text == NULL)
    return NULL;
  lines = g_strsplit (mounts_text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit_set (lines[i], " \t", -1);

      if (g_strv_length (fields) >= 3 && strcmp (fields[2], "cgroup2") == 0 &&
          fields[1][0] == '/')
        return unescape_mount_field (fields[1]);
    }
  return NULL;
}

gboolean
devbg_cgroup_parse_populated (const char *events_text, gboolean *populated)
{
  g_auto(GStrv) lines = NULL;

  if (events_text == NULL)
    return FALSE;
  lines = g_strsplit (events_text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (strcmp (lines[i], "populated 0") == 0)
        {
          *populated = FALSE;
          return TRUE;
        }
      if (strcmp (lines[i], "populated 1") == 0)
        {
          *populated = TRUE;
          return TRUE;
        }
    }
  return FALSE;
}

/* ---- cgroup I/O */

G_DEFINE_QUARK (devbg-spawn-child-error-quark, devbg_spawn_child_error)

static gboolean
set_errno_error (GError **error, int errsv, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
set_errno_error (GError **error, int errsv, const char *format, ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", what,
               g_strerror (errsv));
  return FALSE;
}

/* Writes a short control string in one write(), as cgroupfs expects. */
static gboolean
write_control_file (const char *dir, const char *name, const char *value, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  ssize_t n;
  int errsv;

  if (fd < 0)
    return set_errno_error (error, errno, "Could not open %s", path);
  n = write (fd, value, strlen (value));
  errsv = errno;
  close (fd);
  if (n < 0)
    return set_errno_error (error, errsv, "Could not write '%s' to %s", value, path);
  return TRUE;
}

char *
devbg_cgroup_find_v2_root (void)
{
  g_autofree char *mounts = NULL;

  if (!g_file_get_contents ("/proc/self/mounts", &mounts, NULL, NULL))
    return NULL;
  return devbg_cgroup_v2_root_from_mounts (mounts);
}

char *
devbg_cgroup_default_parent (void)
{
  g_autofree char *root = devbg_cgroup_find_v2_root ();
  g_autofree char *self_cgroup = NULL;
  const char *own = NULL;

  if (root == NULL)
    return NULL;
  /* Under systemd (Delegate=yes) devbgd owns the subtree of its own unit:
   * tasks go below it. Where devbgd sits at the root (no service manager,
   * as in the tests), a "devbg" directory there. */
  if (g_file_get_contents ("/proc/self/cgroup", &self_cgroup, NULL, NULL))
    {
      char *line = strstr (self_cgroup, "0::");
      if (line != NULL && (line == self_cgroup || line[-1] == '\n'))
        {
          own = line + 3;
          *strchrnul (own, '\n') = '\0';
        }
    }
  if (own != NULL && strcmp (own, "/") != 0 && strstr (own, "..") == NULL)
    return g_build_filename (root, own, "devbg-tasks", NULL);
  return g_build_filename (root, "devbg", NULL);
}

gboolean
devbg_cgroup_is_empty (const char *cgroup_path, gboolean *empty, GError **error)
{
  g_autofree char *path = g_build_filename (cgroup_path, "cgroup.events", NULL);
  g_autofree char *text = NULL;
  gboolean populated;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  if (!devbg_cgroup_parse_populated (text, &populated))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "%s has no 'populated' line", path);
      return FALSE;
    }
  *empty = !populated;
  return TRUE;
}

GPtrArray *
devbg_cgroup_list_instances (const char *parent, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) dir = g_dir_open (parent, 0, error);
  const char *name;

  if (dir == NULL)
    return NULL;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "instance-") &&
        devbg_spawn_instance_id_is_valid (name + strlen ("instance-")))
      g_ptr_array_add (ids, g_strdup (name + strlen ("instance-")));
  return g_steal_pointer (&ids);
}

/* Without cgroup.kill (kernels before 5.14): SIGKILL every member until
 * none is left; a member forking meanwhile is caught on a later round. */
static gboolean
kill_cgroup_members (const char *cgroup_path, GError **error)
{
  g_autofree char *procs = g_build_filename (cgroup_path, "cgroup.procs", NULL);

  for (guint round = 0; round < 100; round++)
    {
      g_autofree char *text = NULL;
      g_auto(GStrv) pids = NULL;
      gboolean any = FALSE;

      if (!g_file_get_contents (procs, &text, NULL, error))
        return FALSE;
      pids = g_strsplit (text, "\n", -1);
      for (guint i = 0; pids[i] != NULL; i++)
        {
          gint64 pid = g_ascii_strtoll (pids[i], NULL, 10);
          if (pid > 0 && kill ((pid_t) pid, SIGKILL) == 0)
            any = TRUE;
        }
      if (!any)
        return TRUE;
      g_usleep (1000);
    }
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "Processes in %s keep appearing",
               cgroup_path);
  return FALSE;
}

gboolean
devbg_cgroup_kill (const char *cgroup_path, GError **error)
{
  g_autofree char *kill_file = g_build_filename (cgroup_path, "cgroup.kill", NULL);

  if (g_file_test (kill_file, G_FILE_TEST_EXISTS))
    return write_control_file (cgroup_path, "cgroup.kill", "1", error);
  return kill_cgroup_members (cgroup_path, error);
}

/* Makes (or reuses, if empty) <parent>/instance-<id>. */
/* The parents already made, with the cpu controller asked for below
 * them. */
static GHashTable *
prepared_parents (void)
{
  static GHashTable *parents;

  if (parents == NULL)
    parents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return parents;
}

/* Makes @parent and asks for the cpu controller below it: once per parent,
 * not at every task start (writing cgroup.subtree_control is among the
 * dearest steps of a start). */
static gboolean
prepare_parent (const char *parent, gboolean want_cpu, GError **error)
{
  if (g_hash_table_contains (prepared_parents (), parent))
    return TRUE;
  if (mkdir (parent, 0755) < 0 && errno != EEXIST)
    return set_errno_error (error, errno, "Could not create cgroup %s", parent);
  /* Best effort: the cpu controller is often not enabled for us. */
  if (want_cpu)
    write_control_file (parent, "cgroup.subtree_control", "+cpu", NULL);
  g_hash_table_add (prepared_parents (), g_strdup (parent));
  return TRUE;
}

static char *
create_instance_cgroup (const char *parent, const DevbgSpawnOptions *o, GError **error)
{
  g_autofree char *dir_name = g_strdup_printf ("instance-%s", o->instance_id);
  g_autofree char *path = g_build_filename (parent, dir_name, NULL);
  gboolean empty = FALSE;
  int rc;

  if (!prepare_parent (parent, o->cpu_weight > 0, error))
    return NULL;
  rc = mkdir (path, 0755);
  if (rc < 0 && errno == ENOENT)
    {
      /* The parent was removed (by hand) since: made again, once. */
      g_hash_table_remove (prepared_parents (), parent);
      if (!prepare_parent (parent, o->cpu_weight > 0, error))
        return NULL;
      rc = mkdir (path, 0755);
    }
  if (rc < 0)
    {
      if (errno != EEXIST)
        {
          set_errno_error (error, errno, "Could not create cgroup %s", path);
          return NULL;
        }
      /* A leftover of an instance with the same ID: reuse it only if empty. */
      if (!devbg_cgroup_is_empty (path, &empty, error))
        return NULL;
      if (!empty)
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                       "Cgroup %s exists and still has processes", path);
          return NULL;
        }
    }
  /* A directory somewhere else than in a cgroup v2 file system is none. */
  {
    g_autofree char *procs = g_build_filename (path, "cgroup.procs", NULL);

    if (access (procs, W_OK) < 0)
      {
        set_errno_error (error, errno, "%s is not a usable cgroup", path);
        rmdir (path);
        return NULL;
      }
  }
  if (o->cpu_weight > 0)
    {
      g_autofree char *weight_file = g_build_filename (path, "cpu.weight", NULL);
      g_autofree char *weight = g_strdup_printf ("%u", o->cpu_weight);

      if (g_file_test (weight_file, G_FILE_TEST_EXISTS))
        write_control_file (path, "cpu.weight", weight, NULL);
    }
  return g_steal_pointer (&path);
}

/* ---- the process tree without a cgroup */

/* The task processes devbgd started and has not reaped: its children that
 * a GChildWatch waits for. Any other child is an orphan it adopted. */
static GHashTable *
known_tasks (void)
{
  static GHashTable *pids;

  if (pids == NULL)
    pids = g_hash_table_new (g_direct_hash, g_direct_equal);
  return pids;
}

/* devbgd adopts the orphans of its tasks: a task's descendant whose parent
 * exits goes to the task (itself a subreaper, see child_exec()), and once
 * the task is gone, to devbgd, instead of to init where nothing would know
 * it. */
static void
become_subreaper (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    g_warning ("Cannot become a child subreaper (%s): without a cgroup, a task's "
               "double-forked processes may outlive it", g_strerror (errno));
}

typedef struct {
  pid_t pid;
  pid_t ppid;
  char  state;
} ProcEntry;

/* Every process's pid, parent and state, from /proc/PID/stat. */
static GArray *
list_processes (void)
{
  GArray *procs = g_array_new (FALSE, FALSE, sizeof (ProcEntry));
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *text = NULL;
      const char *p;
      ProcEntry e;

      if (!g_ascii_isdigit (name[0]))
        continue;
      path = g_strdup_printf ("/proc/%s/stat", name);
      /* The command name may hold spaces and ')': fields follow the last. */
      if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL ||
          sscanf (p + 1, " %c %d", &e.state, &e.ppid) != 2)
        continue;
      e.pid = (pid_t) g_ascii_strtoll (name, NULL, 10);
      g_array_append_val (procs, e);
    }
  return procs;
}

/* The tree to kill: @root (0: none) and the orphans devbgd adopted (its
 * children that are no task it started: descendants of tasks that are
 * gone), with all their descendants; devbgd's own task processes never. */
static GHashTable *
collect_tree (pid_t root, GArray *procs)
{
  GHashTable *tree = g_hash_table_new (g_direct_hash, g_direct_equal);
  pid_t self = getpid ();
  gboolean grew = TRUE;

  if (root > 0)
    g_hash_table_add (tree, GINT_TO_POINTER (root));
  for (guint i = 0; i < procs->len; i++)
    {
      const ProcEntry *e = &g_array_index (procs, ProcEntry, i);
      if (e->ppid == self && !g_hash_table_contains (known_tasks (), GINT_TO_POINTER (e->pid)))
        g_hash_table_add (tree, GINT_TO_POINTER (e->pid));
    }
  /* Parents may come after their children in /proc order: to a fixpoint. */
  while (grew)
    {
      grew = FALSE;
      for (guint i = 0; i < procs->len; i++)
        {
          const ProcEntry *e = &g_array_index (procs, ProcEntry, i);
          if (g_hash_table_contains (tree, GINT_TO_POINTER (e->ppid)) &&
              e->pid != self && g_hash_table_add (tree, GINT_TO_POINTER (e->pid)))
            grew = TRUE;
        }
    }
  return tree;
}

/* Without a cgroup there is no atomic kill: first every process of the
 * tree is stopped (a stopped process cannot fork), scanning again until a
 * scan finds no new one; then all of them are killed. Whatever forked in
 * between is a descendant, found by the next scan. */
static void
kill_descendants (pid_t root)
{
  g_autoptr(GHashTable) stopped = g_hash_table_new (g_direct_hash, g_direct_equal);
  GHashTableIter iter;
  gpointer key;

  for (guint round = 0; round < 100; round++)
    {
      g_autoptr(GArray) procs = list_processes ();
      g_autoptr(GHashTable) tree = collect_tree (root, procs);
      gboolean new_ones = FALSE;

      g_hash_table_iter_init (&iter, tree);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (g_hash_table_add (stopped, key))
          {
            kill (GPOINTER_TO_INT (key), SIGSTOP);
            new_ones = TRUE;
          }
      if (!new_ones)
        break;
    }
  g_hash_table_iter_init (&iter, stopped);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    kill (GPOINTER_TO_INT (key), SIGKILL);
}

/* devbgd's own children, from /proc/self/task/TID/children (one short
 * file per thread, where a scan of /proc reads every process's stat); FALSE
 * where the kernel has no such file. A child made meanwhile may be missed:
 * reaping goes round again. */
static gboolean
list_own_children (GArray *out)
{
  g_autoptr(GDir) tasks = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;

  if (tasks == NULL)
    return FALSE;
  while ((tid = g_dir_read_name (tasks)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/children", tid);
      g_autofree char *text = NULL;
      g_auto(GStrv) pids = NULL;

      if (!g_file_get_contents (path, &text, NULL, NULL))
        {
          /* A thread that just ended has no file; the main one always does,
           * where the kernel has them at all. */
          if (g_ascii_strtoll (tid, NULL, 10) == getpid ())
            return FALSE;
          continue;
        }
      pids = g_strsplit (g_strstrip (text), " ", -1);
      for (char **p = pids; *p != NULL; p++)
        {
          pid_t pid = (pid_t) g_ascii_strtoll (*p, NULL, 10);

          if (pid > 0)
            g_array_append_val (out, pid);
        }
    }
  return TRUE;
}

guint
devbg_spawn_reap_orphans (void)
{
  g_autoptr(GArray) children = g_array_new (FALSE, FALSE, sizeof (pid_t));
  guint left = 0;

  if (!list_own_children (children))
    {
      g_autoptr(GArray) procs = list_processes ();
      pid_t self = getpid ();

      g_array_set_size (children, 0);
      for (guint i = 0; i < procs->len; i++)
        if (g_array_index (procs, ProcEntry, i).ppid == self)
          g_array_append_val (children, g_array_index (procs, ProcEntry, i).pid);
    }
  for (guint i = 0; i < children->len; i++)
    {
      pid_t pid = g_array_index (children, pid_t, i);

      if (g_hash_table_contains (known_tasks (), GINT_TO_POINTER (pid)))
        continue;
      /* Only this pid: a task devbgd started is its GChildWatch's to reap. */
      if (waitpid (pid, NULL, WNOHANG) != pid)
        left++;
    }
  return left;
}

static guint reaper_source;
static guint reaper_rounds;

static gboolean
on_reap (gpointer user_data)
{
  (void) user_data;
  /* Killed orphans die soon after the kill; some more rounds for them. */
  if (devbg_spawn_reap_orphans () > 0 && ++reaper_rounds < 100)
    return G_SOURCE_CONTINUE;
  reaper_source = 0;
  return G_SOURCE_REMOVE;
}

/* Adopted orphans are nobody's GChildWatch: after a kill, they are reaped
 * here (at once for those already dead, then every 50 ms for 5 s). */
static void
schedule_reaping (void)
{
  devbg_spawn_reap_orphans ();
  reaper_rounds = 0;
  if (reaper_source == 0)
    reaper_source = g_timeout_add (50, on_reap, NULL);
}

/* ---- spawning */

/* What the child needs, all prepared before fork(). */
typedef struct {
  const char   *path;
  char *const  *argv;
  char *const  *envp;
  int           fds[5];           /* sources of fds 0..4, all >= HIGH_FD_BASE */
  int           cgroup_procs_fd;  /* -1: no cgroup */
  int           cgroup_dir_fd;    /* for clone3(CLONE_INTO_CGROUP); -1: none */
  gboolean      born_in_cgroup;   /* clone3 put the child there already */
  gboolean      handlers_cleared; /* clone3 reset devbgd's handlers (CLONE_CLEAR_SIGHAND) */
  guint64       ignored;          /* bit sig - 1: devbgd ignores sig, which would survive exec()
                                   * (a mask of its own: glibc's sigset_t refuses 32 and 33) */
  int           err_fd;           /* reports a failed step to the parent */
  uid_t         uid;
  gid_t         gid;
  const gid_t  *groups;
  size_t        n_groups;
  gboolean      change_ids;       /* FALSE: unprivileged, already uid/gid */
  int           nice;
  int           policy;
  long          max_fd;           /* for the close loop fallback */
} ChildPlan;

/* The kernel's struct sigaction, for rt_sigaction(2) itself: glibc's
 * sigaction() refuses to read or set the two real-time signals it keeps
 * for itself (32 and 33), and one of them may arrive ignored from
 * whoever started devbgd. */
typedef struct {
  void          *handler;
  unsigned long  flags;
  void          *restorer;
  unsigned long  mask;
} KernelSigaction;

static gboolean
signal_is_ignored (int sig)
{
  KernelSigaction old = { 0 };

  return syscall (SYS_rt_sigaction, sig, NULL, &old, sizeof old.mask) == 0 &&
         old.handler == (void *) SIG_IGN;
}

/* Async-signal-safe: one system call. */
static void
reset_signal (int sig)
{
  KernelSigaction dfl = { .handler = (void *) SIG_DFL };

  syscall (SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
}

/* Setup steps, named in the error the parent raises. */
typedef enum {
  STEP_SIGNALS, STEP_SETSID, STEP_SUBREAPER, STEP_CGROUP, STEP_NICE, STEP_SCHED, STEP_IOPRIO,
  STEP_FDS, STEP_CLOSE, STEP_GROUPS, STEP_GID, STEP_BOUNDING_SET, STEP_AMBIENT,
  STEP_SECUREBITS, STEP_UID, STEP_NO_NEW_PRIVS, STEP_CAPS_LEFT, STEP_CHDIR, STEP_EXEC,
} ChildStep;

static const char *const step_names[] = {
  [STEP_SIGNALS] = "resetting signals",
  [STEP_SETSID] = "creating a session",
  [STEP_SUBREAPER] = "becoming a child subreaper",
  [STEP_CGROUP] = "joining the cgroup",
  [STEP_NICE] = "setting the nice value",
  [STEP_SCHED] = "setting the scheduling policy",
  [STEP_IOPRIO] = "setting the I/O priority",
  [STEP_FDS] = "setting up fds 0 to 4",
  [STEP_CLOSE] = "closing other fds",
  [STEP_GROUPS] = "setting supplementary groups",
  [STEP_GID] = "setting the gid",
  [STEP_BOUNDING_SET] = "dropping the capability bounding set",
  [STEP_AMBIENT] = "clearing ambient capabilities",
  [STEP_SECUREBITS] = "clearing the securebits",
  [STEP_UID] = "setting the uid",
  [STEP_NO_NEW_PRIVS] = "setting no_new_privs",
  [STEP_CAPS_LEFT] = "checking that no capability is left",
  [STEP_CHDIR] = "changing to /",
  [STEP_EXEC] = "executing",
};

G_GNUC_NORETURN static void
child_fail (const ChildPlan *p, ChildStep step)
{
  int report[2] = { (int) step, errno };
  ssize_t n G_GNUC_UNUSED;

  n = write (p->err_fd, report, sizeof report);
  _exit (127);
}

static int
child_close_others (const ChildPlan *p)
{
  /* Marking them close-on-exec (rather than closing) keeps err_fd usable
   * until exec() succeeds. */
  if (syscall (SYS_close_range, 5U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return 0;
  /* Linux 5.9 and 5.10: close_range() without the flag, around err_fd
   * (which is at least HIGH_FD_BASE). */
  if (syscall (SYS_close_range, 5U, (unsigned) p->err_fd - 1, 0U) == 0 &&
      syscall (SYS_close_range, (unsigned) p->err_fd + 1, ~0U, 0U) == 0)
    return 0;
  for (long fd = 5; fd < p->max_fd; fd++)
    if (fd != p->err_fd)
      close ((int) fd);
  return 0;
}

/* Still root, before the uid changes: nothing may carry a capability
 * through it. An empty bounding set (nothing can come back), no ambient
 * capabilities (they would survive exec()), and no securebits: a
 * keep-caps or no-setuid-fixup inherited from whoever started devbgd would
 * keep the permitted set across setresuid(). */
static void
child_drop_capabilities (const ChildPlan *p)
{
  for (unsigned long cap = 0; cap < 64; cap++)
    if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
      {
        if (errno == EINVAL) /* past the last capability this kernel knows */
          break;
        child_fail (p, STEP_BOUNDING_SET);
      }
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    child_fail (p, STEP_AMBIENT);
  if (prctl (PR_SET_SECUREBITS, 0, 0, 0, 0) < 0)
    child_fail (p, STEP_SECUREBITS);
}

/* Whether any capability is left in the effective, permitted or
 * inheritable set (raw capget(): no libcap in the child). */
static gboolean
child_has_capabilities (void)
{
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0 } };

  if (syscall (SYS_capget, &header, data) < 0)
    return TRUE;
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
    if (data[i].effective != 0 || data[i].permitted != 0 || data[i].inheritable != 0)
      return TRUE;
  return FALSE;
}

/* Async-signal-safe calls only from here on: devbgd has threads, and the
 * child of a threaded process may not take their locks (malloc, NSS). */
G_GNUC_NORETURN static void
child_exec (const ChildPlan *p)
{
  struct sched_param sp = { .sched_priority = 0 };
  sigset_t none;

  /* devbgd's handlers first, while every signal is still blocked (the
   * parent blocked them): sharing devbgd's memory, the child must never
   * run one of its handlers. Then its mask, which would survive exec().
   * With CLONE_CLEAR_SIGHAND the kernel reset the handlers already: only
   * the ignored signals are left (some sixty calls fewer on every start). */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP &&
        (!p->handlers_cleared || (p->ignored & (G_GUINT64_CONSTANT (1) << (sig - 1))) != 0))
      reset_signal (sig);
  sigemptyset (&none);
  if (sigprocmask (SIG_SETMASK, &none, NULL) < 0)
    child_fail (p, STEP_SIGNALS);

  if (setsid () < 0)
    child_fail (p, STEP_SETSID);
  /* The task adopts its own orphans (kept across exec()): a double-forked
   * descendant stays below it, where devbgd finds it without a cgroup. */
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    child_fail (p, STEP_SUBREAPER);
  /* Into the cgroup while still root ("0" means the writing process),
   * unless clone3() had it born there. */
  if (!p->born_in_cgroup && p->cgroup_procs_fd >= 0 && write (p->cgroup_procs_fd, "0", 1) != 1)
    child_fail (p, STEP_CGROUP);

  if (setpriority (PRIO_PROCESS, 0, p->nice) < 0)
    child_fail (p, STEP_NICE);
  if (sched_setscheduler (0, p->policy, &sp) < 0)
    child_fail (p, STEP_SCHED);
  if (syscall (SYS_ioprio_set, DEVBG_IOPRIO_WHO_PROCESS, 0,
               DEVBG_IOPRIO_CLASS_IDLE << DEVBG_IOPRIO_CLASS_SHIFT) < 0)
    child_fail (p, STEP_IOPRIO);

  /* dup2() clears close-on-exec on the target: exactly 0..4 survive. */
  for (int i = 0; i < 5; i++)
    if (dup2 (p->fds[i], i) < 0)
      child_fail (p, STEP_FDS);
  if (child_close_others (p) < 0)
    child_fail (p, STEP_CLOSE);

  /* Raw system calls: glibc's wrappers would make every thread of the
   * process change ids (setxid), and after clone3() glibc still believes in
   * devbgd's other threads. The child has one thread. */
  if (p->change_ids && syscall (SYS_setgroups, p->n_groups, p->groups) < 0)
    child_fail (p, STEP_GROUPS);
  if (p->change_ids && syscall (SYS_setresgid, p->gid, p->gid, p->gid) < 0)
    child_fail (p, STEP_GID);
  if (p->change_ids)
    child_drop_capabilities (p);
  if (p->change_ids && syscall (SYS_setresuid, p->uid, p->uid, p->uid) < 0)
    child_fail (p, STEP_UID);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail (p, STEP_NO_NEW_PRIVS);
  if (p->change_ids && child_has_capabilities ())
    child_fail (p, STEP_CAPS_LEFT);
  if (chdir ("/") < 0)
    child_fail (p, STEP_CHDIR);

  execve (p->path, p->argv, p->envp);
  child_fail (p, STEP_EXEC);
}

/* The fds of a plan that the parent closes after fork(). */
typedef struct {
  int fds[10];
  int n;
} FdList;

static void
fd_list_close (FdList *l)
{
  for (int i = 0; i < l->n; i++)
    close (l->fds[i]);
  l->n = 0;
}

/* A close-on-exec copy of @fd (or of /dev/null for -1) at or above
 * HIGH_FD_BASE, remembered in @l. */
static int
dup_high (FdList *l, int fd, GError **error)
{
  int src = fd;
  int high;

  if (fd < 0 && (src = open ("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
    return set_errno_error (error, errno, "Could not open /dev/null"), -1;
  high = fcntl (src, F_DUPFD_CLOEXEC, HIGH_FD_BASE);
  if (fd < 0)
    close (src);
  if (high < 0)
    return set_errno_error (error, errno, "Could not duplicate fd %d", fd), -1;
  g_assert (l->n < (int) G_N_ELEMENTS (l->fds));
  l->fds[l->n++] = high;
  return high;
}

static gboolean
check_options (const DevbgSpawnOptions *o, GError **error)
{
  if (o->executable == NULL || !g_path_is_absolute (o->executable))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "Task executable must be an absolute path");
      return FALSE;
    }
  if (!devbg_spawn_instance_id_is_valid (o->instance_id))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "Invalid instance ID '%s'", o->instance_id != NULL ? o->instance_id : "");
      return FALSE;
    }
  if (o->channel_fd < 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "A task needs a control channel");
      return FALSE;
    }
  /* The last line of defence: whoever asks, a task never runs as root. */
  if (o->uid == 0 || o->gid == 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_ACCESS_DENIED,
                   "Tasks never run as root (asked for uid %u, gid %u)", (guint) o->uid,
                   (guint) o->gid);
      return FALSE;
    }
  for (gsize i = 0; i < o->n_groups; i++)
    if (o->groups[i] == 0)
      {
        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_ACCESS_DENIED,
                     "Tasks never run as root (asked for the supplementary group 0)");
        return FALSE;
      }
  return TRUE;
}

/* The cgroup directory to use, or NULL: none, the task runs without one
 * (its process group and its descendants are killed instead, see
 * devbg_task_process_kill()). A parent that cannot be made or used is a
 * fallback, not a failed request: the warning says so, once per parent. */
static char *
choose_cgroup (const DevbgSpawnOptions *o)
{
  static GHashTable *warned; /* parents already warned about */
  g_autofree char *parent = NULL;
  g_autoptr(GError) local_error = NULL;
  char *path;

  if (o->cgroup_parent != NULL && o->cgroup_parent[0] == '\0')
    return NULL;
  parent = o->cgroup_parent != NULL ? g_strdup (o->cgroup_parent) : devbg_cgroup_default_parent ();
  if (parent == NULL)
    return NULL;
  path = create_instance_cgroup (parent, o, &local_error);
  if (path != NULL)
    return path;
  if (warned == NULL)
    warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (g_hash_table_add (warned, g_strdup (parent)))
    g_warning ("Task cgroups under %s are not possible (%s); tasks run without a cgroup, "
               "killed by process group and descendants", parent, local_error->message);
  else
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "DEVBG_INSTANCE", o->instance_id,
                      "MESSAGE", "No cgroup for task instance %s: %s", o->instance_id,
                      local_error->message);
  return NULL;
}

/* Waits until the child has exec()ed (err pipe closed by exec) or reported
 * a failed step. */
static gboolean
wait_for_exec (int err_read, pid_t pid, const char *executable, GError **error)
{
  int report[2];
  ssize_t n;

  do
    n = read (err_read, report, sizeof report);
  while (n < 0 && errno == EINTR);
  if (n == 0)
    return TRUE;
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (n != sizeof report || report[0] < 0 || report[0] > STEP_EXEC)
    return set_errno_error (error, n < 0 ? errno : EIO, "Could not start %s", executable);
  g_set_error (error, DEVBG_SPAWN_CHILD_ERROR, g_io_error_from_errno (report[1]),
               "Could not start %s (%s): %s", executable, step_names[report[0]],
               g_strerror (report[1]));
  return FALSE;
}

static gboolean
prepare_plan (ChildPlan *plan, FdList *fds, const DevbgSpawnOptions *o,
              const char *cgroup_path, GError **error)
{
  const int sources[5] = { -1, o->stdout_fd, o->stderr_fd, o->device_fd, o->channel_fd };

  plan->path = o->executable;
  plan->uid = o->uid;
  plan->gid = o->gid;
  plan->groups = o->groups;
  plan->n_groups = o->n_groups;
  /* An unprivileged caller (tests, a session instance) cannot call
   * setgroups(); asking for its own ids needs no change. Anything else is
   * attempted and fails loudly. */
  plan->change_ids = geteuid () == 0 || o->uid != geteuid () || o->gid != getegid ();
  plan->nice = o->nice;
  plan->policy = o->sched == DEVBG_SPAWN_SCHED_IDLE ? SCHED_IDLE : SCHED_BATCH;
  plan->max_fd = sysconf (_SC_OPEN_MAX);
  plan->ignored = 0;
  for (int sig = 1; sig < NSIG && sig <= 64; sig++)
    if (signal_is_ignored (sig))
      plan->ignored |= G_GUINT64_CONSTANT (1) << (sig - 1);
  plan->cgroup_procs_fd = -1;
  plan->cgroup_dir_fd = -1;
  for (int i = 0; i < 5; i++)
    if ((plan->fds[i] = dup_high (fds, sources[i], error)) < 0)
      return FALSE;
  if (cgroup_path != NULL)
    {
      g_autofree char *procs = g_build_filename (cgroup_path, "cgroup.procs", NULL);
      int fd = open (procs, O_WRONLY | O_CLOEXEC);

      if (fd < 0)
        return set_errno_error (error, errno, "Could not open %s", procs);
      plan->cgroup_procs_fd = dup_high (fds, fd, error);
      close (fd);
      if (plan->cgroup_procs_fd < 0)
        return FALSE;
      /* Best effort: without it, the child writes cgroup.procs. */
      fd = open (cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0)
        {
          plan->cgroup_dir_fd = dup_high (fds, fd, NULL);
          close (fd);
        }
    }
  return TRUE;
}

/* AddressSanitizer cannot follow a child that runs on its parent's stack
 * (its no-return hook unpoisons the stacks it believes the child owns): a
 * sanitizer build starts its children the copying way. */
#if defined(__SANITIZE_ADDRESS__)
#define DEVBG_CHILD_BORROWS_MEMORY 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEVBG_CHILD_BORROWS_MEMORY 0
#endif
#endif
#if !defined(DEVBG_CHILD_BORROWS_MEMORY) && defined(__x86_64__)
#define DEVBG_CHILD_BORROWS_MEMORY 1
#elif !defined(DEVBG_CHILD_BORROWS_MEMORY)
#define DEVBG_CHILD_BORROWS_MEMORY 0
#endif

#if DEVBG_CHILD_BORROWS_MEMORY
/* clone3() as vfork() makes its child: sharing devbgd's memory and, until
 * it execs, its stack, while the calling thread waits (CLONE_VM |
 * CLONE_VFORK). The return address is kept in a register across the
 * system call, not on the stack that the child reuses before the parent
 * returns (glibc's vfork does the same); returns_twice tells the compiler.
 * Returns the child's pid, 0 in the child, or -errno. */
__asm__ (
  "  .text\n"
  "  .globl devbg_clone3_vfork\n"
  "  .hidden devbg_clone3_vfork\n"
  "  .type devbg_clone3_vfork, @function\n"
  "devbg_clone3_vfork:\n"
  "  popq %rdx\n"
  "  movl $435, %eax\n" /* __NR_clone3 */
  "  syscall\n"
  "  pushq %rdx\n"
  "  ret\n"
  "  .size devbg_clone3_vfork, .-devbg_clone3_vfork\n");
long devbg_clone3_vfork (struct clone_args *args, size_t size) __attribute__ ((returns_twice));
G_STATIC_ASSERT (SYS_clone3 == 435);
#endif

/* The child, started as cheaply as devbgd can: fork() copies devbgd's
 * page tables and exec() then tears the copy down, about 0.9 ms on a small
 * VM against 0.07 ms for a child that borrows devbgd's memory until it
 * execs (vfork's way). Born in the cgroup when there is one: moving a
 * process into a cgroup afterwards waits for an RCU grace period in the
 * kernel, which put milliseconds (tens at the tail) on every task start.
 * Each way falls back to the next where the kernel refuses it. The child
 * of the borrowing way makes only system calls until exec() and never
 * returns from here (child_exec() is noreturn); signals stay blocked in
 * the parent meanwhile, so no handler of devbgd's runs in it. */
static pid_t
start_child (ChildPlan *plan)
{
  struct clone_args args = {
    .exit_signal = SIGCHLD,
    .cgroup = plan->cgroup_dir_fd >= 0 ? (guint64) plan->cgroup_dir_fd : 0,
  };
  guint64 cgroup_flag = plan->cgroup_dir_fd >= 0 ? CLONE_INTO_CGROUP : 0;
  long pid;

  plan->born_in_cgroup = cgroup_flag != 0; /* what the child sees, if it is born */
  plan->handlers_cleared = TRUE;
#if DEVBG_CHILD_BORROWS_MEMORY
  {
    sigset_t all, saved;

    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    args.flags = CLONE_VM | CLONE_VFORK | CLONE_CLEAR_SIGHAND | cgroup_flag;
    pid = devbg_clone3_vfork (&args, sizeof args);
    if (pid == 0)
      child_exec (plan);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (pid > 0)
      return (pid_t) pid;
    g_debug ("clone3 (CLONE_VM | CLONE_VFORK) failed (%s); trying a copy",
             g_strerror ((int) -pid));
  }
#endif
  if (cgroup_flag != 0)
    {
      args.flags = CLONE_CLEAR_SIGHAND | cgroup_flag;
      pid = syscall (SYS_clone3, &args, sizeof args);
      if (pid == 0)
        child_exec (plan);
      if (pid > 0)
        return (pid_t) pid;
      g_debug ("clone3 into the cgroup failed (%s); forking", g_strerror (errno));
    }
  plan->born_in_cgroup = FALSE;
  plan->handlers_cleared = FALSE;
  pid = fork ();
  if (pid == 0)
    child_exec (plan);
  return (pid_t) pid;
}

static pid_t
fork_child (ChildPlan *plan, FdList *fds, GError **error)
{
  int err_pipe[2];
  pid_t pid;
  gboolean ok;

  if (pipe2 (err_pipe, O_CLOEXEC) < 0)
    return set_errno_error (error, errno, "Could not create a pipe"), -1;
  plan->err_fd = dup_high (fds, err_pipe[1], error);
  close (err_pipe[1]);
  if (plan->err_fd < 0)
    {
      close (err_pipe[0]);
      return -1;
    }
  pid = start_child (plan);
  if (pid < 0)
    {
      close (err_pipe[0]);
      return set_errno_error (error, errno, "Could not fork"), -1;
    }
  fd_list_close (fds); /* the write end too, so the read sees exec's close */
  ok = wait_for_exec (err_pipe[0], pid, plan->path, error);
  close (err_pipe[0]);
  return ok ? pid : -1;
}

struct _DevbgSpawnPlan {
  ChildPlan child;
  FdList    fds;          /* the plan's own copies, closed once it starts or is given up */
  char     *path;
  char    **argv;
  char    **envp;
  gid_t    *groups;
  char     *cgroup_path;  /* made for it; removed if it never starts */
};

DevbgSpawnPlan *
devbg_spawn_prepare (const DevbgSpawnOptions *o, GError **error)
{
  g_autoptr(DevbgSpawnPlan) plan = NULL;
  DevbgSpawnOptions without_device;

  if (!check_options (o, error))
    return NULL;
  become_subreaper ();
  plan = g_new0 (DevbgSpawnPlan, 1);
  plan->cgroup_path = choose_cgroup (o);
  plan->envp = devbg_spawn_build_environ (o->instance_id);
  for (const char *const *e = o->extra_env; e != NULL && *e != NULL; e++)
    {
      guint n = g_strv_length (plan->envp);

      plan->envp = g_renew (char *, plan->envp, n + 2);
      plan->envp[n] = g_strdup (*e);
      plan->envp[n + 1] = NULL;
    }
  plan->path = g_strdup (o->executable);
  if (o->argv != NULL)
    plan->argv = g_strdupv ((char **) o->argv);
  else
    plan->argv = g_strdupv ((char *[]) { plan->path, NULL });
  plan->groups = g_memdup2 (o->groups, o->n_groups * sizeof (gid_t));
  plan->child.argv = plan->argv;
  plan->child.envp = plan->envp;
  /* The device is not open yet: /dev/null holds its place. */
  without_device = *o;
  without_device.device_fd = -1;
  if (!prepare_plan (&plan->child, &plan->fds, &without_device, plan->cgroup_path, error))
    return NULL;
  plan->child.path = plan->path;
  plan->child.groups = plan->groups;
  return g_steal_pointer (&plan);
}

DevbgTaskProcess *
devbg_spawn_start (DevbgSpawnPlan *plan, int device_fd, GError **error)
{
  DevbgTaskProcess *process;
  pid_t pid;

  g_return_val_if_fail (plan->child.path != NULL, NULL);
  if (device_fd >= 0 &&
      (plan->child.fds[DEVBG_SPAWN_DEVICE_FD] = dup_high (&plan->fds, device_fd, error)) < 0)
    return NULL;
  pid = fork_child (&plan->child, &plan->fds, error);
  plan->child.path = NULL; /* one start per plan */
  fd_list_close (&plan->fds);
  if (pid < 0)
    return NULL;

  process = g_new0 (DevbgTaskProcess, 1);
  g_hash_table_add (known_tasks (), GINT_TO_POINTER (pid));
  process->pid = pid;
  process->pgid = pid;
  process->pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  process->cgroup_path = g_steal_pointer (&plan->cgroup_path);
  return process;
}

void
devbg_spawn_plan_free (DevbgSpawnPlan *plan)
{
  if (plan == NULL)
    return;
  fd_list_close (&plan->fds);
  if (plan->cgroup_path != NULL)
    rmdir (plan->cgroup_path);
  g_free (plan->cgroup_path);
  g_free (plan->path);
  g_strfreev (plan->argv);
  g_strfreev (plan->envp);
  g_free (plan->groups);
  g_free (plan);
}

DevbgTaskProcess *
devbg_spawn_task (const DevbgSpawnOptions *o, GError **error)
{
  g_autoptr(DevbgSpawnPlan) plan = devbg_spawn_prepare (o, error);

  if (plan == NULL)
    return NULL;
  return devbg_spawn_start (plan, o->device_fd, error);
}

void
devbg_task_process_free (DevbgTaskProcess *process)
{
  if (process == NULL)
    return;
  devbg_task_process_reaped (process);
  if (process->pidfd >= 0)
    close (process->pidfd);
  g_free (process->cgroup_path);
  g_free (process);
}

void
devbg_task_process_reaped (DevbgTaskProcess *process)
{
  if (process->reaped)
    return;
  process->reaped = TRUE;
  g_hash_table_remove (known_tasks (), GINT_TO_POINTER (process->pid));
}

gboolean
devbg_task_process_kill (DevbgTaskProcess *process, GError **error)
{
  gboolean ok = TRUE;

  if (process->cgroup_path != NULL)
    ok = devbg_cgroup_kill (process->cgroup_path, error);
  else
    kill_descendants (process->reaped ? 0 : process->pid);
  /* Also the process group, while its leader is not reaped (after that,
   * its number may name someone else's group): without a cgroup, members
   * that are not found as descendants; with one, it costs nothing. A group
   * already gone is not an error. */
  if (ok && !process->reaped && killpg (process->pgid, SIGKILL) < 0 && errno != ESRCH)
    ok = set_errno_error (error, errno, "Could not kill process group %d", (int) process->pgid);
  schedule_reaping ();
  return ok;
}

gboolean
devbg_task_process_remove_cgroup (DevbgTaskProcess *process, GError **error)
{
  if (process->cgroup_path == NULL)
    return TRUE;
  if (rmdir (process->cgroup_path) < 0 && errno != ENOENT)
    return set_errno_error (error, errno, "Could not remove cgroup %s", process->cgroup_path);
  g_clear_pointer (&process->cgroup_path, g_free);
  return TRUE;
}

gboolean
devbg_spawn_lookup_groups (const char *user, gid_t gid, GArray **out_groups, GError **error)
{
  int n = 32;

  for (int attempt = 0; attempt < 8; attempt++)
    {
      g_autoptr(GArray) groups = g_array_sized_new (FALSE, TRUE, sizeof (gid_t), (guint) n);
      int want = n;

      g_array_set_size (groups, (guint) n);
      if (getgrouplist (user, gid, (gid_t *) groups->data, &want) >= 0)
        {
          g_array_set_size (groups, (guint) want);
          *out_groups = g_steal_pointer (&groups);
          return TRUE;
        }
      /* getgrouplist() put the needed count in want. */
      n = MAX (want, n * 2);
    }
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "Could not list the groups of %s", user);
  return FALSE;
}
