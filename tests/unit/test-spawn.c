/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Spawning task processes for real, and libdevbg's task side end to end
 * through the control channel, with tests/helpers/devbg-test-task.
 *
 * As root (CI), tasks run as nobody (65534) and everything is checked from
 * /proc; the cgroup tests run where a cgroup v2 hierarchy is writable, in
 * a parent of their own (<v2 root>/devbg-test-<pid>). Not as root, the
 * tasks run as the current user without id changes, and the tests that
 * need root skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "devbg-channel.h"
#include "devbg-error.h"
#include "devbg-spawn.h"

#define NOBODY 65534
#define USERS_GID 100

static char *task_exe;       /* a copy of devbg-test-task that nobody can run */
static char *scratch_dir;    /* world-writable, for reports */
static char *cgroup_parent;  /* NULL where no v2 hierarchy is writable */

/* ---- helpers */

static gboolean
is_root (void)
{
  return geteuid () == 0;
}

static uid_t
task_uid (void)
{
  return is_root () ? NOBODY : getuid ();
}

typedef struct {
  DevbgTaskProcess *process;
  int               channel;  /* our end */
  int               device;   /* our end of the "device" */
} Task;

static void
task_clear (Task *t)
{
  if (t->process != NULL)
    {
      devbg_task_process_kill (t->process, NULL);
      waitpid (t->process->pid, NULL, 0);
      devbg_task_process_remove_cgroup (t->process, NULL);
    }
  g_clear_pointer (&t->process, devbg_task_process_free);
  if (t->channel >= 0)
    close (t->channel);
  if (t->device >= 0)
    close (t->device);
}

static void
fill_options (DevbgSpawnOptions *o, const char *instance_id, const char *parent,
              const gid_t *groups, gsize n_groups)
{
  o->uid = task_uid ();
  o->gid = is_root () ? NOBODY : getgid ();
  o->groups = is_root () ? groups : NULL;
  o->n_groups = is_root () ? n_groups : 0;
  o->stdout_fd = -1;
  o->stderr_fd = g_test_verbose () ? STDERR_FILENO : -1;
  o->instance_id = instance_id;
  o->nice = DEVBG_SPAWN_DEFAULT_NICE;
  o->sched = DEVBG_SPAWN_SCHED_BATCH;
  o->cgroup_parent = parent;
}

/* Spawns @argv (default: the test task) with fresh channel and device
 * socketpairs; a @entry_point sends the trigger details for it. */
static void
task_start (Task *t, const char *const *argv, const char *entry_point, const char *arguments,
            const char *parent)
{
  static guint counter;
  g_autofree char *instance_id = g_strdup_printf ("t%d-%u", (int) getpid (), ++counter);
  const gid_t groups[] = { NOBODY, USERS_GID };
  const char *default_argv[] = { task_exe, entry_point, NULL };
  DevbgSpawnOptions o = { 0 };
  g_autoptr(GError) error = NULL;
  int chan[2], dev[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan), ==, 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dev), ==, 0);
  fill_options (&o, instance_id, parent, groups, G_N_ELEMENTS (groups));
  o.executable = argv != NULL ? argv[0] : task_exe;
  o.argv = argv != NULL ? argv : default_argv;
  o.device_fd = dev[1];
  o.channel_fd = chan[1];
  t->process = devbg_spawn_task (&o, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t->process);
  close (chan[1]);
  close (dev[1]);
  t->channel = chan[0];
  t->device = dev[0];

  if (entry_point != NULL)
    {
      DevbgChannelMessage trigger = {
        .type = DEVBG_CHANNEL_MSG_TRIGGER, .instance_id = instance_id,
        .task_id = (char *) "0b0e8a5e-2f5d-4c4e-9d6b-3a8f2e1c7d90",
        .entry_point = (char *) entry_point, .device_id = (char *) "sim:dock-1",
        .arguments = (char *) arguments, .expected_duration_ms = 120000,
        .trigger_type = DEVBG_TRIGGER_SERVICING,
      };
      g_assert_true (devbg_channel_send (t->channel, &trigger, &error));
      g_assert_no_error (error);
    }
}

/* The next message from the task, or NULL at end of stream. */
static DevbgChannelMessage *
task_recv (Task *t)
{
  struct pollfd pfd = { .fd = t->channel, .events = POLLIN };
  g_autoptr(GError) error = NULL;
  DevbgChannelMessage *msg = NULL;

  g_assert_cmpint (poll (&pfd, 1, 10000), ==, 1);
  g_assert_true (devbg_channel_recv (t->channel, DEVBG_CHANNEL_TO_SERVICE, &msg, &error));
  g_assert_no_error (error);
  return msg;
}

static int
task_wait (Task *t)
{
  int status = 0;

  g_assert_cmpint (waitpid (t->process->pid, &status, 0), ==, t->process->pid);
  return status;
}

static void
send_cancel (Task *t, DevbgCancelReason reason, const char *detail)
{
  g_autoptr(GBytes) packet = devbg_channel_encode_cancel (reason, detail, NULL);

  g_assert_true (devbg_channel_send_bytes (t->channel, packet, NULL));
}

static char *
proc_read (pid_t pid, const char *name)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/%s", (int) pid, name);
  char *text = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &text, &len, NULL));
  /* environ is NUL-separated: make it one line per variable. */
  for (gsize i = 0; i + 1 < len; i++)
    if (text[i] == '\0')
      text[i] = '\n';
  return text;
}

/* The value of "Key:\t..." in /proc/PID/status, tabs as spaces. */
static char *
status_field (pid_t pid, const char *key)
{
  g_autofree char *status = proc_read (pid, "status");
  g_auto(GStrv) lines = g_strsplit (status, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], key) && lines[i][strlen (key)] == ':')
      return g_strdelimit (g_strstrip (g_strdup (lines[i] + strlen (key) + 1)), "\t", ' ');
  g_assert_not_reached ();
}

static char *
fd_listing (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  GString *s = g_string_new (NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      int fd = atoi (name);
      g_array_append_val (fds, fd);
    }
  for (int fd = 0; fd < 1024; fd++)
    for (guint i = 0; i < fds->len; i++)
      if (g_array_index (fds, int, i) == fd)
        g_string_append_printf (s, "%s%d", s->len > 0 ? "," : "", fd);
  return g_string_free (s, FALSE);
}

/* A process is dead once /proc has no entry or shows a zombie. */
static gboolean
process_is_dead (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *close_paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  close_paren = strrchr (stat, ')');
  return close_paren != NULL && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

static gboolean
wait_until_dead (pid_t pid)
{
  for (int i = 0; i < 500; i++)
    {
      if (process_is_dead (pid))
        return TRUE;
      g_usleep (10000);
    }
  return FALSE;
}

static gboolean
need_root (void)
{
  if (!is_root ())
    {
      g_test_skip ("needs root");
      return FALSE;
    }
  return TRUE;
}

static gboolean
need_cgroup (void)
{
  if (!need_root ())
    return FALSE;
  if (cgroup_parent == NULL)
    {
      g_test_skip ("no writable cgroup v2 hierarchy");
      return FALSE;
    }
  return TRUE;
}

/* ---- pure parts */

static void
test_environ (void)
{
  g_auto(GStrv) env = devbg_spawn_build_environ ("42");
  const char *expected[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "DEVBG_INSTANCE_ID=42",
                             "DEVBG_DEVICE_FD=3", "DEVBG_CHANNEL_FD=4", NULL };

  g_assert_true (g_strv_equal ((const char *const *) env, expected));
}

static void
test_instance_id (void)
{
  g_assert_true (devbg_spawn_instance_id_is_valid ("42"));
  g_assert_true (devbg_spawn_instance_id_is_valid ("0b0e8a5e-2f5d_X"));
  g_assert_false (devbg_spawn_instance_id_is_valid (""));
  g_assert_false (devbg_spawn_instance_id_is_valid (NULL));
  g_assert_false (devbg_spawn_instance_id_is_valid (".."));
  g_assert_false (devbg_spawn_instance_id_is_valid ("a/b"));
  g_assert_false (devbg_spawn_instance_id_is_valid ("a b"));
  g_assert_false (devbg_spawn_instance_id_is_valid ("0123456789012345678901234567890123456789"
                                                    "01234567890123456789012345"));
}

static void
test_mounts (void)
{
  const char *hybrid =
    "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
    "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
    "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
  const char *pure = "sysfs /sys sysfs rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n";
  const char *escaped = "cgroup2 /mnt/my\\040cg cgroup2 rw 0 0";
  const char *v1_only = "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";
  g_autofree char *a = devbg_cgroup_v2_root_from_mounts (hybrid);
  g_autofree char *b = devbg_cgroup_v2_root_from_mounts (pure);
  g_autofree char *c = devbg_cgroup_v2_root_from_mounts (escaped);

  g_assert_cmpstr (a, ==, "/sys/fs/cgroup/unified");
  g_assert_cmpstr (b, ==, "/sys/fs/cgroup");
  g_assert_cmpstr (c, ==, "/mnt/my cg");
  g_assert_null (devbg_cgroup_v2_root_from_mounts (v1_only));
  g_assert_null (devbg_cgroup_v2_root_from_mounts (""));
}

static void
test_events (void)
{
  gboolean populated = FALSE;

  g_assert_true (devbg_cgroup_parse_populated ("populated 1\nfrozen 0\n", &populated));
  g_assert_true (populated);
  g_assert_true (devbg_cgroup_parse_populated ("frozen 0\npopulated 0", &populated));
  g_assert_false (populated);
  g_assert_false (devbg_cgroup_parse_populated ("frozen 0\n", &populated));
  g_assert_false (devbg_cgroup_parse_populated ("populated 2\n", &populated));
}

static void
test_lookup_groups (void)
{
  g_autoptr(GArray) groups = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_primary = FALSE;

  g_assert_true (devbg_spawn_lookup_groups ("nobody", NOBODY, &groups, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < groups->len; i++)
    has_primary |= g_array_index (groups, gid_t, i) == NOBODY;
  g_assert_true (has_primary);
}

static void
test_bad_options (void)
{
  DevbgSpawnOptions o = { .executable = "relative", .instance_id = "1", .channel_fd = 0 };
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;

  g_assert_null (devbg_spawn_task (&o, &e1));
  g_assert_error (e1, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  o.executable = "/bin/true";
  o.instance_id = "../x";
  g_assert_null (devbg_spawn_task (&o, &e2));
  g_assert_error (e2, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
  o.instance_id = "1";
  o.channel_fd = -1;
  g_assert_null (devbg_spawn_task (&o, &e3));
  g_assert_error (e3, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT);
}

/* Tasks never run as root: not uid 0, not gid 0, not in group 0, whoever
 * asks; and nothing is started. */
static void
test_never_root (void)
{
  const gid_t with_root[] = { NOBODY, 0 };
  const struct { uid_t uid; gid_t gid; const gid_t *groups; gsize n; } cases[] = {
    { 0, NOBODY, NULL, 0 },
    { NOBODY, 0, NULL, 0 },
    { 0, 0, NULL, 0 },
    { NOBODY, NOBODY, with_root, G_N_ELEMENTS (with_root) },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *marker = g_strdup_printf ("%s/devbg-never-root-%d", g_get_tmp_dir (),
                                                 (int) getpid ());
      const char *argv[] = { "/bin/touch", marker, NULL };
      DevbgSpawnOptions o = { 0 };
      int chan[2];

      g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan), ==, 0);
      fill_options (&o, "never-root", "", NULL, 0);
      o.executable = argv[0];
      o.argv = argv;
      o.device_fd = -1;
      o.channel_fd = chan[1];
      o.uid = cases[i].uid;
      o.gid = cases[i].gid;
      o.groups = cases[i].groups;
      o.n_groups = cases[i].n;
      g_assert_null (devbg_spawn_task (&o, &error));
      g_assert_error (error, DEVBG_ERROR, DEVBG_ERROR_ACCESS_DENIED);
      g_assert_nonnull (strstr (error->message, "never run as root"));
      g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
      close (chan[0]);
      close (chan[1]);
    }
}

static void
test_exec_failure (void)
{
  Task t = { NULL, -1, -1 };
  DevbgSpawnOptions o = { 0 };
  g_autoptr(GError) error = NULL;
  int chan[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan), ==, 0);
  fill_options (&o, "exec-failure", "", NULL, 0);
  o.executable = "/nonexistent/task";
  o.device_fd = -1;
  o.channel_fd = chan[1];
  t.process = devbg_spawn_task (&o, &error);
  g_assert_null (t.process);
  g_assert_error (error, DEVBG_SPAWN_CHILD_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "executing"));
  g_assert_cmpstr (error->message, ==,
                   "Could not start /nonexistent/task (executing): No such file or directory");
  close (chan[0]);
  close (chan[1]);
}

/* ---- signals: none of devbgd's dispositions or mask reach the task */

static void
on_usr1 (int sig)
{
  (void) sig;
}

/* Signal 32 ignored as a parent may hand it down (glibc's own sigaction()
 * refuses it: glibc keeps it for itself). Returns its old handler. */
static void *
raw_ignore (int sig, void *handler)
{
  struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; }
    act = { .handler = handler }, old = { 0 };

  g_assert_cmpint (syscall (SYS_rt_sigaction, sig, &act, &old, sizeof act.mask), ==, 0);
  return old.handler;
}

static void
test_signals (void)
{
  const char *sleep_argv[] = { "/bin/sleep", "60", NULL };
  struct sigaction ign = { .sa_handler = SIG_IGN }, handler = { .sa_handler = on_usr1 };
  struct sigaction old_pipe, old_usr2, old_usr1;
  g_autofree char *ignored = NULL, *blocked = NULL;
  sigset_t hup, old_mask;
  Task t = { NULL, -1, -1 };

  void *old_32;

  /* As devbgd has them: some ignored, some handled, some blocked. */
  old_32 = raw_ignore (32, (void *) SIG_IGN);
  sigaction (SIGPIPE, &ign, &old_pipe);
  sigaction (SIGUSR2, &ign, &old_usr2);
  sigaction (SIGUSR1, &handler, &old_usr1);
  sigemptyset (&hup);
  sigaddset (&hup, SIGHUP);
  pthread_sigmask (SIG_BLOCK, &hup, &old_mask);

  task_start (&t, sleep_argv, NULL, NULL, "");
  for (int i = 0; i < 200; i++)
    {
      g_autofree char *exe = g_strdup_printf ("/proc/%d/exe", (int) t.process->pid);
      g_autofree char *target = g_file_read_link (exe, NULL);
      if (target != NULL && g_str_has_suffix (target, "sleep"))
        break;
      g_usleep (5000);
    }
  ignored = status_field (t.process->pid, "SigIgn");
  blocked = status_field (t.process->pid, "SigBlk");
  task_clear (&t);
  sigaction (SIGPIPE, &old_pipe, NULL);
  sigaction (SIGUSR2, &old_usr2, NULL);
  sigaction (SIGUSR1, &old_usr1, NULL);
  raw_ignore (32, old_32);
  pthread_sigmask (SIG_SETMASK, &old_mask, NULL);

  g_assert_cmpstr (ignored, ==, "0000000000000000");
  g_assert_cmpstr (blocked, ==, "0000000000000000");
}

/* ---- confinement, checked from /proc */

static void
test_confinement (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) ready = NULL;
  g_autoptr(DevbgChannelMessage) done = NULL;
  g_autofree char *uid = NULL, *gid = NULL, *groups = NULL, *nnp = NULL;
  g_autofree char *stat = NULL, *env = NULL, *cwd = NULL, *caps = NULL;
  g_autofree char *cwd_link = NULL;
  g_auto(GStrv) env_lines = NULL;
  g_auto(GStrv) stat_fields = NULL;
  long ioprio;
  pid_t pid;

  if (!need_root ())
    return;
  task_start (&t, NULL, "Test.Idle", "", cgroup_parent != NULL ? cgroup_parent : "");
  pid = t.process->pid;
  ready = task_recv (&t);
  g_assert_nonnull (ready);
  g_assert_cmpint (ready->type, ==, DEVBG_CHANNEL_MSG_PROGRESS);

  uid = status_field (pid, "Uid");
  gid = status_field (pid, "Gid");
  groups = status_field (pid, "Groups");
  nnp = status_field (pid, "NoNewPrivs");
  g_assert_cmpstr (uid, ==, "65534 65534 65534 65534");
  g_assert_cmpstr (gid, ==, "65534 65534 65534 65534");
  g_assert_cmpstr (groups, ==, "100 65534");
  g_assert_cmpstr (nnp, ==, "1");
  caps = status_field (pid, "CapEff");
  g_assert_cmpstr (caps, ==, "0000000000000000");
  /* Nothing to regain either: no bounding set, no ambient capabilities. */
  for (const char *const *f = (const char *const[]) { "CapPrm", "CapInh", "CapBnd", "CapAmb", NULL };
       *f != NULL; f++)
    {
      g_autofree char *set = status_field (pid, *f);
      g_assert_cmpstr (set, ==, "0000000000000000");
    }

  /* Field 19 of /proc/PID/stat (counting from 1) is the nice value; split
   * after the command name, which may hold spaces. */
  stat = proc_read (pid, "stat");
  stat_fields = g_strsplit (strrchr (stat, ')') + 2, " ", -1);
  g_assert_cmpstr (stat_fields[19 - 3], ==, "10");
  g_assert_cmpint (sched_getscheduler (pid), ==, SCHED_BATCH);
  ioprio = syscall (SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, pid);
  g_assert_cmpint (ioprio >> 13, ==, 3 /* IOPRIO_CLASS_IDLE */);

  env = proc_read (pid, "environ");
  env_lines = g_strsplit (g_strchomp (env), "\n", -1);
  g_assert_cmpuint (g_strv_length (env_lines), ==, 5);
  g_assert_true (g_strv_contains ((const char *const *) env_lines, "PATH=/usr/bin:/bin"));
  g_assert_true (g_strv_contains ((const char *const *) env_lines, "LANG=C.UTF-8"));
  g_assert_true (g_strv_contains ((const char *const *) env_lines, "DEVBG_DEVICE_FD=3"));
  g_assert_true (g_strv_contains ((const char *const *) env_lines, "DEVBG_CHANNEL_FD=4"));

  cwd_link = g_strdup_printf ("/proc/%d/cwd", (int) pid);
  cwd = g_file_read_link (cwd_link, NULL);
  g_assert_cmpstr (cwd, ==, "/");
  g_assert_cmpint (getpgid (pid), ==, pid);
  g_assert_cmpint (getsid (pid), ==, pid);
  /* pidfd_open() exists since Linux 5.3 (but not under valgrind). */
  {
    int probe = (int) syscall (SYS_pidfd_open, getpid (), 0);
    if (probe >= 0)
      {
        close (probe);
        g_assert_cmpint (t.process->pidfd, >=, 0);
      }
  }

  if (cgroup_parent != NULL)
    {
      g_autofree char *procs_path = g_build_filename (t.process->cgroup_path, "cgroup.procs", NULL);
      g_autofree char *procs = NULL;
      g_autofree char *me = g_strdup_printf ("%d\n", (int) pid);
      gboolean empty = TRUE;

      g_assert_true (g_str_has_prefix (t.process->cgroup_path, cgroup_parent));
      g_assert_true (g_file_get_contents (procs_path, &procs, NULL, NULL));
      g_assert_cmpstr (procs, ==, me);
      g_assert_true (devbg_cgroup_is_empty (t.process->cgroup_path, &empty, NULL));
      g_assert_false (empty);
    }
  else
    g_assert_null (t.process->cgroup_path);

  /* Cancel: Test.Idle completes with the reason and exits 1. */
  send_cancel (&t, DEVBG_CANCEL_CONDITION_LOSS, "device removed");
  done = task_recv (&t);
  g_assert_nonnull (done);
  g_assert_cmpint (done->type, ==, DEVBG_CHANNEL_MSG_COMPLETE);
  g_assert_false (done->success);
  g_assert_cmpstr (done->error_message, ==, "canceled: condition-loss: device removed");
  {
    int status = task_wait (&t);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  }
  if (t.process->cgroup_path != NULL)
    {
      gboolean empty = FALSE;
      g_assert_true (devbg_cgroup_is_empty (t.process->cgroup_path, &empty, NULL));
      g_assert_true (empty);
      g_assert_true (devbg_task_process_remove_cgroup (t.process, NULL));
    }
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

/* Exactly fds 0..4, seen from outside (a program that opens nothing after
 * start-up) and from inside (the test task's start-up snapshot). */
static void
test_fds (void)
{
  const char *sleep_argv[] = { "/bin/sleep", "60", NULL };
  Task t = { NULL, -1, -1 };
  Task r = { NULL, -1, -1 };
  g_autofree char *listing = NULL;
  g_autofree char *report_path = g_build_filename (scratch_dir, "report-fds", NULL);
  g_autofree char *args = g_strdup_printf ("path=%s", report_path);
  g_autofree char *report = NULL;
  g_autoptr(DevbgChannelMessage) done = NULL;
  g_autofree char *expected_uid = g_strdup_printf ("uid=%u\n", (guint) task_uid ());
  /* A canary that is not close-on-exec: it must not reach the task. */
  int canary = open ("/dev/null", O_RDONLY);

  g_assert_cmpint (canary, >=, 0);
  task_start (&t, sleep_argv, NULL, NULL, "");
  for (int i = 0; i < 200; i++)
    {
      g_free (listing);
      listing = fd_listing (t.process->pid);
      if (g_strcmp0 (listing, "0,1,2,3,4") == 0)
        break;
      g_usleep (10000); /* the dynamic loader may hold a library open */
    }
  g_assert_cmpstr (listing, ==, "0,1,2,3,4");
  task_clear (&t);

  task_start (&r, NULL, "Test.ReportFds", args, "");
  done = task_recv (&r);
  g_assert_nonnull (done);
  g_assert_cmpint (done->type, ==, DEVBG_CHANNEL_MSG_COMPLETE);
  g_assert_true (done->success);
  g_assert_cmpint (WEXITSTATUS (task_wait (&r)), ==, 0);
  g_clear_pointer (&r.process, devbg_task_process_free);
  task_clear (&r);
  close (canary);

  g_assert_true (g_file_get_contents (report_path, &report, NULL, NULL));
  g_test_message ("report: %s", report);
  g_assert_nonnull (strstr (report, "fds=0,1,2,3,4\n"));
  g_assert_nonnull (strstr (report, expected_uid));
  g_assert_nonnull (strstr (report, "nice=10\n"));
  g_assert_nonnull (strstr (report, "entry_point=Test.ReportFds\n"));
  g_assert_nonnull (strstr (report, "device=sim:dock-1\n"));
  g_assert_nonnull (strstr (report, "trigger=servicing\nexpected_duration_ms=120000\n"));
}

/* A task that ignores cancellation and has a child: killing the task kills
 * the whole tree. */
static void
check_kill_tree (const char *parent)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) progress = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *child_path = g_build_filename (scratch_dir, "ignore-cancel-child", NULL);
  g_autofree char *args = g_strdup_printf ("path=%s", child_path);
  g_autofree char *child_text = NULL;
  pid_t child;
  int status;

  task_start (&t, NULL, "Test.IgnoreCancel", args, parent);
  progress = task_recv (&t);
  g_assert_nonnull (progress);
  g_assert_cmpint (progress->type, ==, DEVBG_CHANNEL_MSG_PROGRESS);
  /* The task wrote its child's pid before it reported progress. */
  g_assert_true (g_file_get_contents (child_path, &child_text, NULL, NULL));
  g_unlink (child_path);
  child = (pid_t) g_ascii_strtoll (child_text, NULL, 10);
  g_assert_cmpint (child, >, 0);
  g_assert_false (process_is_dead (child));
  g_assert_cmpint (getpgid (child), ==, t.process->pgid);

  send_cancel (&t, DEVBG_CANCEL_ABORT, "test");
  g_usleep (200000);
  g_assert_cmpint (waitpid (t.process->pid, &status, WNOHANG), ==, 0);

  g_assert_true (devbg_task_process_kill (t.process, &error));
  g_assert_no_error (error);
  status = task_wait (&t);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
  g_assert_true (wait_until_dead (child));

  if (t.process->cgroup_path != NULL)
    {
      gboolean empty = FALSE;

      for (int i = 0; i < 200 && !empty; i++)
        {
          g_assert_true (devbg_cgroup_is_empty (t.process->cgroup_path, &empty, &error));
          g_assert_no_error (error);
          if (!empty)
            g_usleep (10000);
        }
      g_assert_true (empty);
      g_assert_true (devbg_task_process_remove_cgroup (t.process, &error));
      g_assert_no_error (error);
    }
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

static void
test_kill_tree_cgroup (void)
{
  g_autoptr(GPtrArray) ids = NULL;

  if (!need_cgroup ())
    return;
  check_kill_tree (cgroup_parent);
  ids = devbg_cgroup_list_instances (cgroup_parent, NULL);
  g_assert_nonnull (ids);
  g_assert_cmpuint (ids->len, ==, 0);
}

static void
test_kill_tree_pgroup (void)
{
  check_kill_tree ("");
}

/* Without a cgroup, a grandchild that left the process group and session
 * (double fork, setsid) dies with the tree all the same, and once dead,
 * adopted by this process (the subreaper), it is reaped. */
static void
test_kill_tree_escaped (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("devbg-escape-XXXXXX", NULL);
  g_autofree char *pid_file = g_build_filename (dir, "sleeper", NULL);
  g_autofree char *script = g_strdup_printf (
    "( setsid sh -c 'echo $$ > %s.tmp; mv %s.tmp %s; exec sleep 300' 4>&- & ); exec sleep 300",
    pid_file, pid_file, pid_file);
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  g_autofree char *text = NULL;
  g_autofree char *proc_path = NULL;
  pid_t sleeper;

  g_assert_cmpint (chmod (dir, 0777), ==, 0);
  task_start (&t, argv, NULL, NULL, "");
  g_assert_null (t.process->cgroup_path);
  for (int i = 0; i < 500 && !g_file_test (pid_file, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);
  g_assert_true (g_file_get_contents (pid_file, &text, NULL, NULL));
  sleeper = (pid_t) g_ascii_strtoll (text, NULL, 10);
  g_assert_cmpint (sleeper, >, 0);
  g_assert_false (process_is_dead (sleeper));
  g_assert_cmpint (getsid (sleeper), !=, getsid (t.process->pid));

  g_assert_true (devbg_task_process_kill (t.process, &error));
  g_assert_no_error (error);
  g_assert_true (WIFSIGNALED (task_wait (&t)));
  devbg_task_process_reaped (t.process);
  g_assert_true (wait_until_dead (sleeper));
  proc_path = g_strdup_printf ("/proc/%d", (int) sleeper);
  for (int i = 0; i < 500 && g_file_test (proc_path, G_FILE_TEST_EXISTS); i++)
    {
      devbg_spawn_reap_orphans ();
      g_usleep (10000);
    }
  g_assert_cmpuint (devbg_spawn_reap_orphans (), ==, 0);
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
  g_unlink (pid_file);
  g_rmdir (dir);
}

/* A leftover instance cgroup (as after a devbgd crash) is found and
 * emptied. */
static void
test_leftover_cgroup (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) ready = NULL;
  g_autoptr(GPtrArray) ids = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dir_name = NULL;
  gboolean empty = TRUE;

  if (!need_cgroup ())
    return;
  task_start (&t, NULL, "Test.Idle", "", cgroup_parent);
  ready = task_recv (&t);
  ids = devbg_cgroup_list_instances (cgroup_parent, NULL);
  g_assert_cmpuint (ids->len, ==, 1);
  dir_name = g_strconcat ("instance-", (char *) ids->pdata[0], NULL);
  path = g_build_filename (cgroup_parent, dir_name, NULL);
  g_assert_cmpstr (path, ==, t.process->cgroup_path);
  g_assert_true (devbg_cgroup_is_empty (path, &empty, NULL));
  g_assert_false (empty);
  g_assert_true (devbg_cgroup_kill (path, NULL));
  g_assert_true (WIFSIGNALED (task_wait (&t)));
  g_assert_true (devbg_task_process_remove_cgroup (t.process, NULL));
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

/* ---- libdevbg's task side, end to end */

static void
test_task_progress (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) done = NULL;

  task_start (&t, NULL, "Test.Progress", "count=5 interval_ms=1", "");
  for (guint i = 1; i <= 5; i++)
    {
      g_autoptr(DevbgChannelMessage) p = task_recv (&t);
      g_assert_nonnull (p);
      g_assert_cmpint (p->type, ==, DEVBG_CHANNEL_MSG_PROGRESS);
      g_assert_cmpuint (p->progress, ==, i);
    }
  done = task_recv (&t);
  g_assert_cmpint (done->type, ==, DEVBG_CHANNEL_MSG_COMPLETE);
  g_assert_true (done->success);
  g_assert_cmpint (WEXITSTATUS (task_wait (&t)), ==, 0);
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

static void
test_task_fail (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) done = NULL;

  task_start (&t, NULL, "Test.Fail", "message=NAK", "");
  done = task_recv (&t);
  g_assert_cmpint (done->type, ==, DEVBG_CHANNEL_MSG_COMPLETE);
  g_assert_false (done->success);
  g_assert_cmpstr (done->error_message, ==, "NAK");
  g_assert_cmpint (WEXITSTATUS (task_wait (&t)), ==, 1);
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

static void
test_task_exit (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) eof = NULL;
  int status;

  task_start (&t, NULL, "Test.Exit", "", "");
  status = task_wait (&t);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 3);
  eof = task_recv (&t);
  g_assert_null (eof);
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

static void
test_task_io (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) done = NULL;
  char buf[8];
  gsize got = 0;

  task_start (&t, NULL, "Test.Io", "count=3 interval_ms=5", "");
  for (guint i = 1; i <= 3; i++)
    {
      g_autoptr(DevbgChannelMessage) p = task_recv (&t);
      g_assert_cmpuint (p->progress, ==, i);
    }
  done = task_recv (&t);
  g_assert_true (done->success);
  while (got < 3)
    {
      ssize_t n = read (t.device, buf + got, sizeof buf - got);
      g_assert_cmpint (n, >, 0);
      got += (gsize) n;
    }
  g_assert_cmpmem (buf, 3, "...", 3);
  g_assert_cmpint (WEXITSTATUS (task_wait (&t)), ==, 0);
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

/* The channel closing (devbgd gone) cancels with reason Terminating. */
static void
test_task_channel_closed (void)
{
  Task t = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) ready = NULL;

  task_start (&t, NULL, "Test.Io", "interval_ms=5", "");
  ready = task_recv (&t);
  shutdown (t.channel, SHUT_WR);
  for (;;)
    {
      g_autoptr(DevbgChannelMessage) m = task_recv (&t);
      g_assert_nonnull (m);
      if (m->type == DEVBG_CHANNEL_MSG_COMPLETE)
        {
          g_assert_false (m->success);
          g_assert_cmpstr (m->error_message, ==, "canceled: terminating");
          break;
        }
    }
  g_assert_cmpint (WEXITSTATUS (task_wait (&t)), ==, 1);
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);
}

static void
test_task_bad_start (void)
{
  Task t = { NULL, -1, -1 };
  Task u = { NULL, -1, -1 };
  g_autoptr(DevbgChannelMessage) m1 = NULL;
  g_autoptr(DevbgChannelMessage) m2 = NULL;

  task_start (&t, NULL, "No.Such.Entry", "", "");
  m1 = task_recv (&t);
  g_assert_false (m1->success);
  g_assert_nonnull (strstr (m1->error_message, "no entry point named 'No.Such.Entry'"));
  g_assert_cmpint (WEXITSTATUS (task_wait (&t)), ==, 2);
  g_clear_pointer (&t.process, devbg_task_process_free);
  task_clear (&t);

  /* A cancel before any trigger details. */
  task_start (&u, NULL, NULL, NULL, "");
  send_cancel (&u, DEVBG_CANCEL_ABORT, "");
  m2 = task_recv (&u);
  g_assert_false (m2->success);
  g_assert_nonnull (strstr (m2->error_message, "Expected trigger details"));
  g_assert_cmpint (WEXITSTATUS (task_wait (&u)), ==, 2);
  g_clear_pointer (&u.process, devbg_task_process_free);
  task_clear (&u);
}

/* ---- setup */

static void
copy_task_executable (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  scratch_dir = g_dir_make_tmp ("devbg-test-spawn-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (scratch_dir, 0777), ==, 0);
  task_exe = g_build_filename (scratch_dir, "devbg-test-task", NULL);
  g_assert_true (g_file_get_contents (DEVBG_TEST_TASK, &contents, &len, &error));
  g_assert_true (g_file_set_contents (task_exe, contents, (gssize) len, &error));
  g_assert_cmpint (chmod (task_exe, 0755), ==, 0);
}

static void remove_cgroup_parent (const char *parent);

/* Parents left by an earlier run that aborted (its pid is gone). */
static void
remove_stale_parents (const char *root)
{
  g_autoptr(GDir) dir = g_dir_open (root, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      gint64 pid;

      if (!g_str_has_prefix (name, "devbg-test-"))
        continue;
      pid = g_ascii_strtoll (name + strlen ("devbg-test-"), NULL, 10);
      if (pid <= 0 || kill ((pid_t) pid, 0) == 0)
        continue;
      path = g_build_filename (root, name, NULL);
      remove_cgroup_parent (path);
    }
}

static void
setup_cgroup_parent (void)
{
  g_autofree char *root = devbg_cgroup_find_v2_root ();
  g_autofree char *parent = NULL;

  if (root == NULL || !is_root ())
    return;
  remove_stale_parents (root);
  parent = g_strdup_printf ("%s/devbg-test-%d", root, (int) getpid ());
  if (mkdir (parent, 0755) == 0)
    cgroup_parent = g_steal_pointer (&parent);
}

/* Instance cgroups left by a failed test, then the parent. */
static void
remove_cgroup_parent (const char *parent)
{
  g_autoptr(GDir) dir = g_dir_open (parent, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "instance-"))
      {
        g_autofree char *p = g_build_filename (parent, name, NULL);
        devbg_cgroup_kill (p, NULL);
        g_usleep (50000);
        rmdir (p);
      }
  rmdir (parent);
}

static void
cleanup (void)
{

  if (cgroup_parent != NULL)
    remove_cgroup_parent (cgroup_parent);
  if (scratch_dir != NULL)
    {
      g_autofree char *report = g_build_filename (scratch_dir, "report-fds", NULL);
      unlink (report);
      unlink (task_exe);
      rmdir (scratch_dir);
    }
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  /* A dead peer must give EPIPE, as in devbgd. */
  signal (SIGPIPE, SIG_IGN);
  copy_task_executable ();
  setup_cgroup_parent ();

  g_test_add_func ("/spawn/pure/environ", test_environ);
  g_test_add_func ("/spawn/pure/instance-id", test_instance_id);
  g_test_add_func ("/spawn/pure/mounts", test_mounts);
  g_test_add_func ("/spawn/pure/cgroup-events", test_events);
  g_test_add_func ("/spawn/lookup-groups", test_lookup_groups);
  g_test_add_func ("/spawn/bad-options", test_bad_options);
  g_test_add_func ("/spawn/never-root", test_never_root);
  g_test_add_func ("/spawn/exec-failure", test_exec_failure);
  g_test_add_func ("/spawn/confinement", test_confinement);
  g_test_add_func ("/spawn/fds", test_fds);
  g_test_add_func ("/spawn/signals", test_signals);
  g_test_add_func ("/spawn/kill-tree/cgroup", test_kill_tree_cgroup);
  g_test_add_func ("/spawn/kill-tree/process-group", test_kill_tree_pgroup);
  g_test_add_func ("/spawn/kill-tree/escaped", test_kill_tree_escaped);
  g_test_add_func ("/spawn/leftover-cgroup", test_leftover_cgroup);
  g_test_add_func ("/task/progress", test_task_progress);
  g_test_add_func ("/task/fail", test_task_fail);
  g_test_add_func ("/task/exit", test_task_exit);
  g_test_add_func ("/task/io", test_task_io);
  g_test_add_func ("/task/channel-closed", test_task_channel_closed);
  g_test_add_func ("/task/bad-start", test_task_bad_start);
  ret = g_test_run ();
  cleanup ();
  return ret;
}
