/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-instance"

#include "devbg-instance.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devbg-channel.h"
#include "devbg-error.h"
#include "devbg-log.h"
#include "devbg-policy.h"
#include "devbg-spawn.h"

/* How many channel messages one dispatch reads before yielding, so that a
 * task flooding progress cannot starve the rest of devbgd. */
#define MAX_MESSAGES_PER_DISPATCH 512
/* A task's stdout and stderr go to devbgd's log, a line at a time with the
 * instance's ID, so a vendor can debug a task; at most this much of the two
 * together, the rest is read and dropped (a chatty task must not flood the
 * journal, nor block on a full pipe). Each line costs its length plus
 * TASK_OUTPUT_LINE_COST: a log message weighs far more than its text, and
 * counted as 1 byte, an empty line let one task have devbgd log 131,074
 * messages, past journald's rate limit (10,000 a service per 30 s), which
 * then drops devbgd's own messages about what that user does next. So at
 * most MAX_TASK_OUTPUT / TASK_OUTPUT_LINE_COST (512) lines an instance. */
#define MAX_TASK_OUTPUT (64 * 1024)
#define TASK_OUTPUT_LINE_COST 128
#define MAX_TASK_OUTPUT_LINE 1024
/* Past the budget, the rest is dropped at most TASK_OUTPUT_DROP_BYTES per
 * stream every TASK_OUTPUT_DROP_PAUSE_MS (640 KiB/s): read as fast as a task
 * could write it (cat /dev/zero), it kept devbgd (nice 0) at 100% of a core
 * for the task's life, the task's nice 10 and SCHED_BATCH notwithstanding.
 * A task that writes faster waits on its full pipe. Closing the pipe
 * instead would kill a shell task, or a C one outside libdevbg, with
 * SIGPIPE, and make Python's print() raise BrokenPipeError. */
#define TASK_OUTPUT_DROP_BYTES (64 * 1024)
#define TASK_OUTPUT_DROP_PAUSE_MS 100
#define TASK_OUTPUT_READ_SIZE 4096

/* One of the task's output streams, read from a pipe into devbgd's log. */
typedef struct {
  const char *name;     /* "stdout", "stderr" */
  int         fd;       /* the read end; -1 when closed */
  guint       watch;    /* the fd's watch, or the pause of a drop */
  GString    *line;     /* a line not yet ended */
  DevbgInstance *instance; /* not owned: it owns this */
} TaskOutput;

struct _DevbgInstance {
  GObject             parent;
  DevbgInstanceRecord record;   /* strings owned */
  const DevbgConfig  *config;
  DevbgDevices       *devices;
  char               *executable;
  char               *arguments;
  guint64             expected_duration_ms;
  gid_t               gid;
  char               *user_name;
  char               *owner;
  char               *cgroup_parent;
  DevbgFlatpakOrigin *flatpak;  /* a Flatpak app's task: its sandbox's deployment */
  DevbgFlatpak       *flatpaks; /* not owned: outlives every instance */
  double              cpu_mhz;
  int                 log_fd;

  DevbgInstanceState  state;
  DevbgSpawnPlan     *plan;         /* prepared while the device opens */
  DevbgTaskProcess   *process;
  uid_t               task_uid;
  gid_t               task_gid;
  int                 channel_fd;
  guint               channel_watch;
  guint               child_watch;
  gboolean            exited;
  int                 wait_status;

  guint32             progress;
  gboolean            progress_dirty;
  guint               progress_idle;
  gboolean            progress_refused; /* one above 100 came, and was logged */

  gboolean            completed;       /* the task sent COMPLETE */
  gboolean            completed_ok;
  char               *completed_error;
  char               *failure;         /* devbgd's own reason it failed */
  gboolean            canceled;
  DevbgCancelReason   cancel_reason;
  char               *cancel_detail;
  gboolean            grace_killed;    /* canceled, it did not stop in time */
  gboolean            detached;

  gint64              started_mono;
  guint               wall_clock_timer;
  guint               io_timer;
  guint64             io_last;
  guint               cpu_timer;
  gboolean            screen_locked; /* decides the CPU window's length */
  guint64             cpu_last_us;
  TaskOutput          output[2];      /* stdout, stderr: to the log */
  gsize               output_logged;  /* of both, up to MAX_TASK_OUTPUT */
  /* A KEEP_ALIVE arrived in the current I/O or CPU window: the task says
   * it waits on purpose (a device rebooting), so that window is not held
   * against it. The wall-clock limit still bounds it. */
  gboolean            kept_alive_io;
  gboolean            kept_alive_cpu;
  guint               grace_timer;
  guint               linger_timer;   /* the channel closed; the process may go on */
  gulong              removed_handler;
  DevbgDevice        *device;

  /* A REOPEN_DEVICE in progress: waiting for the device to come back
   * (added_handler, reopen_timer) or for it to open. */
  gboolean            reopen_pending;
  gulong              added_handler;
  guint               reopen_timer;
  guint32             reopen_timeout_ms;
  GCancellable       *reopen_cancellable;
};

G_DEFINE_TYPE (DevbgInstance, devbg_instance, G_TYPE_OBJECT)

enum { SIGNAL_PROGRESS, SIGNAL_FINISHED, SIGNAL_STATE_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void finish (DevbgInstance *self);
static void start_reopen (DevbgInstance *self, guint32 timeout_ms);
static void start_linger (DevbgInstance *self);
static void stop_reopen (DevbgInstance *self);

const char *
devbg_instance_state_to_string (DevbgInstanceState state)
{
  switch (state)
    {
    case DEVBG_INSTANCE_STARTING: return "starting";
    case DEVBG_INSTANCE_RUNNING: return "running";
    case DEVBG_INSTANCE_CANCELING: return "canceling";
    case DEVBG_INSTANCE_FINISHED: return "finished";
    }
  return "unknown";
}

guint64
devbg_process_start_time (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  const char *p;
  int field = 2;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  /* Fields after the command name, which may hold spaces and ')'. */
  p = strrchr (text, ')');
  if (p == NULL)
    return 0;
  for (p++; *p != '\0'; p++)
    if (*p == ' ' && ++field == 22)
      return g_ascii_strtoull (p + 1, NULL, 10);
  return 0;
}

/* ---- facts ---- */

/* CPU time used by the task's tree, in microseconds: the cgroup's counter
 * where it has one (it counts children too), else the main process's. */
static guint64
cpu_used_us (DevbgInstance *self)
{
  g_autofree char *text = NULL;

  if (self->process->cgroup_path != NULL)
    {
      g_autofree char *path = g_build_filename (self->process->cgroup_path, "cpu.stat", NULL);
      if (g_file_get_contents (path, &text, NULL, NULL) && g_str_has_prefix (text, "usage_usec "))
        return g_ascii_strtoull (text + strlen ("usage_usec "), NULL, 10);
      g_clear_pointer (&text, g_free);
    }
  {
    g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) self->process->pid);
    const char *p;
    guint64 ticks = 0;
    int field = 2;

    if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL)
      return 0;
    for (p++; *p != '\0'; p++)
      if (*p == ' ')
        {
          field++;
          if (field >= 14 && field <= 17) /* utime stime cutime cstime */
            ticks += g_ascii_strtoull (p + 1, NULL, 10);
        }
    return ticks * G_USEC_PER_SEC / (guint64) sysconf (_SC_CLK_TCK);
  }
}

/* ---- ending ---- */

static void
clear_timers (DevbgInstance *self)
{
  g_clear_handle_id (&self->wall_clock_timer, g_source_remove);
  g_clear_handle_id (&self->io_timer, g_source_remove);
  g_clear_handle_id (&self->cpu_timer, g_source_remove);
  g_clear_handle_id (&self->grace_timer, g_source_remove);
  g_clear_handle_id (&self->linger_timer, g_source_remove);
  if (self->removed_handler != 0)
    {
      g_signal_handler_disconnect (self->devices, self->removed_handler);
      self->removed_handler = 0;
    }
  stop_reopen (self);
}

static void
kill_tree (DevbgInstance *self)
{
  g_autoptr(GError) error = NULL;

  if (self->process == NULL)
    return;
  if (!devbg_task_process_kill (self->process, &error))
    devbg_log_instance (G_LOG_LEVEL_WARNING, &self->record,
                        "instance %s: cannot kill its processes: %s", self->record.instance_id,
                        error->message);
}

static void
fail (DevbgInstance *self, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* devbgd's own verdict that the task failed (a bad message, a closed
 * channel): the first one is kept and the tree is killed. */
static void
fail (DevbgInstance *self, const char *format, ...)
{
  va_list args;

  if (self->failure == NULL)
    {
      va_start (args, format);
      self->failure = g_strdup_vprintf (format, args);
      va_end (args);
      devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                          "instance %s: %s", self->record.instance_id, self->failure);
    }
  kill_tree (self);
}

static void
close_channel (DevbgInstance *self)
{
  g_clear_handle_id (&self->channel_watch, g_source_remove);
  if (self->channel_fd >= 0)
    {
      close (self->channel_fd);
      self->channel_fd = -1;
    }
}

static gboolean
emit_progress (gpointer user_data)
{
  DevbgInstance *self = user_data;

  self->progress_idle = 0;
  if (self->progress_dirty)
    {
      self->progress_dirty = FALSE;
      g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, self->progress);
    }
  return G_SOURCE_REMOVE;
}

static void
handle_message (DevbgInstance *self, DevbgChannelMessage *msg)
{
  switch (msg->type)
    {
    case DEVBG_CHANNEL_MSG_PROGRESS:
      /* A percentage: above 100 is the task's bug, not for the app to show,
       * nor worth ending the task for. Said once: a task may send many. */
      if (msg->progress > DEVBG_CHANNEL_MAX_PROGRESS)
        {
          if (!self->progress_refused)
            devbg_log_instance (G_LOG_LEVEL_WARNING, &self->record,
                                "instance %s: the task reported progress %u, above %u: ignored, "
                                "as every such report of this instance will be",
                                self->record.instance_id, (guint) msg->progress,
                                DEVBG_CHANNEL_MAX_PROGRESS);
          self->progress_refused = TRUE;
          break;
        }
      self->progress = msg->progress;
      self->progress_dirty = TRUE;
      /* Coalesce: one signal per main-loop iteration carries the latest. */
      if (self->progress_idle == 0)
        self->progress_idle = g_idle_add (emit_progress, self);
      break;
    case DEVBG_CHANNEL_MSG_KEEP_ALIVE:
      self->kept_alive_io = TRUE;
      self->kept_alive_cpu = TRUE;
      break;
    case DEVBG_CHANNEL_MSG_REOPEN_DEVICE:
      if (self->state != DEVBG_INSTANCE_FINISHED) /* read by the last drain: moot */
        start_reopen (self, msg->timeout_ms);
      break;
    case DEVBG_CHANNEL_MSG_COMPLETE:
      if (!self->completed)
        {
          self->completed = TRUE;
          self->completed_ok = msg->success;
          self->completed_error = g_strdup (msg->error_message);
          /* Done: the process has the grace period to leave. */
          start_linger (self);
        }
      break;
    default:
      fail (self, "the task sent a %s message, which only devbgd sends",
            devbg_channel_message_type_to_string (msg->type));
      break;
    }
}

/* Reads what the task sent; returns FALSE once the channel is done
 * (closed, broken, or a bad message). */
static gboolean
drain_channel (DevbgInstance *self, guint max)
{
  gboolean reset_seen = FALSE;

  for (guint i = 0; i < max && self->channel_fd >= 0; i++)
    {
      g_autoptr(DevbgChannelMessage) msg = NULL;
      g_autoptr(GError) error = NULL;

      if (!devbg_channel_recv (self->channel_fd, DEVBG_CHANNEL_TO_SERVICE, &msg, &error))
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return TRUE;
          /* A task that closes its end with a message of ours unread (the
           * TRIGGER, a CANCEL) resets the connection. The kernel reports
           * that ECONNRESET once, *before* the packets the task sent and
           * that are still queued: its COMPLETE among them. So read on;
           * the end of the queue then reads as end of stream. */
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) && !reset_seen)
            {
              reset_seen = TRUE;
              continue;
            }
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
              g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
            return FALSE;
          if (g_error_matches (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE))
            fail (self, "bad message from the task: %s", error->message);
          else
            fail (self, "the control channel failed: %s", error->message);
          return FALSE;
        }
      if (msg == NULL)
        return FALSE; /* end of stream: see start_linger() */
      handle_message (self, msg);
    }
  return TRUE;
}

static gboolean
on_linger_over (gpointer user_data)
{
  DevbgInstance *self = user_data;

  self->linger_timer = 0;
  if (!self->completed)
    fail (self, "the task closed its control channel without completing");
  else
    kill_tree (self); /* completed, yet still there: nothing of it may linger */
  return G_SOURCE_REMOVE;
}

/* The task completed, or closed its end of the channel. Most often it is
 * exiting: its exit, seen by the child watch, then says how it ended. One
 * that stays (completed, or without its channel, unsupervised) goes after
 * the grace period. */
static void
start_linger (DevbgInstance *self)
{
  if (self->exited || self->linger_timer != 0 || self->state == DEVBG_INSTANCE_FINISHED)
    return;
  self->linger_timer = g_timeout_add ((guint) (MAX (self->config->cancel_grace_period, 0.1) * 1000),
                                      on_linger_over, self);
}

static gboolean
on_channel (int fd, GIOCondition condition, gpointer user_data)
{
  DevbgInstance *self = user_data;

  (void) fd;
  (void) condition;
  if (drain_channel (self, MAX_MESSAGES_PER_DISPATCH))
    return G_SOURCE_CONTINUE;
  self->channel_watch = 0;
  close_channel (self);
  start_linger (self);
  return G_SOURCE_REMOVE;
}

static char *
exit_description (int status)
{
  if (WIFEXITED (status))
    return g_strdup_printf ("exited with status %d", WEXITSTATUS (status));
  if (WIFSIGNALED (status))
    return g_strdup_printf ("was killed by signal %d (%s)", WTERMSIG (status),
                            g_strsignal (WTERMSIG (status)));
  return g_strdup_printf ("ended with wait status %d", status);
}

/* The outcome, in order of precedence: a cancel, devbgd's own failure
 * verdict, what the task reported, or how the process ended. */
static void
compute_outcome (DevbgInstance *self)
{
  DevbgInstanceRecord *r = &self->record;
  g_autofree char *how = exit_description (self->wait_status);

  g_clear_pointer (&r->error, g_free);
  g_clear_pointer (&r->cancel_reason, g_free);
  r->finished_us = g_get_real_time ();
  r->cancel_reason = g_strdup (self->canceled ? devbg_cancel_reason_to_string (self->cancel_reason) : "");

  if (self->completed && !self->canceled && self->failure == NULL)
    {
      r->success = self->completed_ok;
      r->error = g_strdup (self->completed_ok ? "" : self->completed_error);
    }
  else if (self->canceled)
    {
      r->success = FALSE;
      g_autofree char *killed = NULL;

      /* The app should know the task ignored the cancel, not only why it
       * was canceled. */
      if (self->grace_killed)
        killed = g_strdup_printf ("; the task was killed for not stopping within the grace "
                                  "period (%g s)", self->config->cancel_grace_period);
      r->error = g_strdup_printf ("canceled (%s): %s%s%s%s",
                                  devbg_cancel_reason_to_string (self->cancel_reason),
                                  self->cancel_detail,
                                  self->completed && !self->completed_ok ? "; the task said: " : "",
                                  self->completed && !self->completed_ok ? self->completed_error : "",
                                  killed != NULL ? killed : "");
    }
  else if (self->failure != NULL)
    {
      r->success = FALSE;
      r->error = g_strdup_printf ("%s; the task %s", self->failure, how);
    }
  else
    {
      r->success = FALSE;
      r->error = g_strdup_printf ("the task %s without completing", how);
    }
}

static void
finish (DevbgInstance *self)
{
  g_autoptr(GError) error = NULL;

  if (self->state == DEVBG_INSTANCE_FINISHED)
    return;
  self->state = DEVBG_INSTANCE_FINISHED;
  clear_timers (self);
  /* Whatever the task left behind goes with it; killed first, so that no
   * process of the tree can keep the drain below busy. */
  kill_tree (self);
  /* Every message the task sent before it exited is read before its exit
   * is judged: a COMPLETE sent just before exiting counts. The queue is
   * bounded by the socket's buffer. */
  if (self->channel_fd >= 0)
    drain_channel (self, G_MAXUINT);
  close_channel (self);
  if (self->process != NULL && !devbg_task_process_remove_cgroup (self->process, &error))
    devbg_log_instance (G_LOG_LEVEL_DEBUG, &self->record,
                        "instance %s: %s", self->record.instance_id, error->message);
  g_clear_handle_id (&self->progress_idle, g_source_remove);
  if (self->progress_dirty)
    emit_progress (self);

  compute_outcome (self);
  devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                      "instance %s of %s ended: %s%s",
                      self->record.instance_id, self->record.app_id,
                      self->record.success ? "success" : "failed: ", self->record.error);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
}

/* A Flatpak task that ends by itself may have ended of its app's removal
 * (its sandbox's files went first): how it ended is decided against the
 * installation as it is now, not as the debounced reload last saw it, so
 * that an uninstall or update is its reason whichever came first. */
static void
cancel_if_flatpak_gone (DevbgInstance *self)
{
  DevbgFlatpakState state;

  if (self->flatpak == NULL || self->canceled || self->completed)
    return;
  state = devbg_flatpak_check_now (self->flatpaks, self->flatpak);
  /* The reload has canceled it already, through the runtime. */
  if (state == DEVBG_FLATPAK_UNINSTALLED)
    devbg_instance_cancel (self, DEVBG_CANCEL_UNINSTALL, "the app was uninstalled");
  else if (state == DEVBG_FLATPAK_UPDATED)
    devbg_instance_cancel (self, DEVBG_CANCEL_SERVICING_UPDATE,
                           "the app was updated; its tasks run the new version from now on");
}

/* The device's removal is the reason a task ended in failure, though the
 * task had no cancel of it: it completed, or left, first. A task on a
 * device that goes away most often notices first (its next write fails)
 * and reports that, or dies of it, before devbgd has heard of the
 * removal; the reason is the same whichever came first. */
static void
note_removal (DevbgInstance *self)
{
  DevbgVerdict verdict = devbg_policy_check_removal (self->record.trigger,
                                                     self->record.device_id);

  if (verdict.cancel && !self->canceled && !(self->completed && self->completed_ok))
    {
      self->canceled = TRUE;
      self->cancel_reason = verdict.reason;
      self->cancel_detail = g_strdup (verdict.detail);
      devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                          "instance %s: ended after its device left (%s): %s",
                          self->record.instance_id,
                          devbg_cancel_reason_to_string (verdict.reason), verdict.detail);
    }
  devbg_verdict_clear (&verdict);
}

/* A task on a device that ends by itself may have ended of the device's
 * removal, which devbgd hears of from udev after the kernel has taken the
 * device out: how it ended is decided against the device as it is now,
 * as cancel_if_flatpak_gone() does for the app. */
static void
note_removal_if_device_gone (DevbgInstance *self)
{
  if (self->device != NULL && devbg_devices_is_gone (self->devices, self->device))
    note_removal (self);
}

static void
on_child_exit (GPid pid, int status, gpointer user_data)
{
  DevbgInstance *self = user_data;

  (void) pid;
  self->child_watch = 0;
  self->exited = TRUE;
  self->wait_status = status;
  devbg_task_process_reaped (self->process);
  g_object_ref (self);
  cancel_if_flatpak_gone (self);
  note_removal_if_device_gone (self);
  finish (self);
  g_object_unref (self);
}


/* ---- REOPEN_DEVICE: the device came back (after a firmware reset) ---- */

static void
stop_reopen (DevbgInstance *self)
{
  if (self->added_handler != 0)
    {
      g_signal_handler_disconnect (self->devices, self->added_handler);
      self->added_handler = 0;
    }
  g_clear_handle_id (&self->reopen_timer, g_source_remove);
  if (self->reopen_cancellable != NULL)
    {
      g_cancellable_cancel (self->reopen_cancellable);
      g_clear_object (&self->reopen_cancellable);
    }
  self->reopen_pending = FALSE;
}

static void
answer_reopen (DevbgInstance *self, int fd, const char *error_message)
{
  g_autoptr(GError) error = NULL;

  stop_reopen (self);
  if (self->channel_fd < 0)
    return;
  /* A task that completed may be gone already: nothing to answer then. */
  if (!devbg_channel_send_device_reopened (self->channel_fd, fd, error_message, &error) &&
      !self->completed)
    fail (self, "cannot answer the task's reopen: %s", error->message);
}

static void
on_reopened (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(DevbgInstance) self = user_data;
  g_autoptr(GError) error = NULL;
  int fd = devbg_devices_open_finish (DEVBG_DEVICES (source), res, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      self->state == DEVBG_INSTANCE_FINISHED)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  if (fd < 0)
    {
      g_autofree char *msg = g_strdup_printf ("cannot open device %s again: %s",
                                              self->record.device_id, error->message);
      answer_reopen (self, -1, msg);
      return;
    }
  g_set_object (&self->device, devbg_devices_lookup (self->devices, self->record.device_id));
  devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                      "instance %s: device %s opened again",
                      self->record.instance_id, self->record.device_id);
  answer_reopen (self, fd, NULL);
  close (fd); /* the task has its own copy now */
}

static void
open_again (DevbgInstance *self, DevbgDevice *device)
{
  if (self->added_handler != 0)
    {
      g_signal_handler_disconnect (self->devices, self->added_handler);
      self->added_handler = 0;
    }
  g_clear_handle_id (&self->reopen_timer, g_source_remove);
  self->reopen_cancellable = g_cancellable_new ();
  devbg_devices_open_async (self->devices, device, self->reopen_cancellable, on_reopened,
                            g_object_ref (self));
}

static void
on_device_added (DevbgDevices *devices, DevbgDevice *device, gpointer user_data)
{
  DevbgInstance *self = user_data;

  (void) devices;
  if (g_strcmp0 (devbg_device_get_id (device), self->record.device_id) == 0)
    open_again (self, device);
}

static gboolean
on_reopen_timeout (gpointer user_data)
{
  DevbgInstance *self = user_data;
  g_autofree char *msg = g_strdup_printf ("device %s did not come back within %u ms",
                                          self->record.device_id, self->reopen_timeout_ms);

  self->reopen_timer = 0;
  answer_reopen (self, -1, msg);
  return G_SOURCE_REMOVE;
}

/* The task asks for its device again: now if it is attached, else when
 * it arrives with the same ID, or an error after @timeout_ms. */
static void
start_reopen (DevbgInstance *self, guint32 timeout_ms)
{
  DevbgDevice *device;

  if (self->reopen_pending)
    {
      answer_reopen (self, -1, "a reopen is already in progress");
      return;
    }
  if (self->record.trigger != DEVBG_TRIGGER_SERVICING)
    {
      /* A use task's device leaving cancels it: there is nothing to wait for. */
      answer_reopen (self, -1, "only servicing tasks may reopen their device");
      return;
    }
  self->reopen_pending = TRUE;
  self->reopen_timeout_ms = timeout_ms;
  device = devbg_devices_lookup (self->devices, self->record.device_id);
  if (device != NULL && devbg_device_get_attached (device) &&
      device != self->device)
    {
      open_again (self, device);
      return;
    }
  /* Still the old device (about to leave after a reset) or none: wait for
   * the device to arrive. */
  self->added_handler = g_signal_connect (self->devices, "device-added",
                                          G_CALLBACK (on_device_added), self);
  self->reopen_timer = g_timeout_add (timeout_ms, on_reopen_timeout, self);
}

/* ---- cancel ---- */

static gboolean
on_grace_over (gpointer user_data)
{
  DevbgInstance *self = user_data;

  self->grace_timer = 0;
  devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                      "instance %s: grace period over; killing its processes",
                      self->record.instance_id);
  /* One that completed did stop; it is only slow to leave. */
  self->grace_killed = !self->completed && !self->exited;
  kill_tree (self);
  return G_SOURCE_REMOVE;
}

void
devbg_instance_cancel (DevbgInstance *self, DevbgCancelReason reason, const char *detail)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) packet = NULL;

  /* A task that completed is leaving: its outcome is what it said. */
  if (self->state == DEVBG_INSTANCE_FINISHED || self->canceled || self->completed)
    return;
  self->canceled = TRUE;
  self->cancel_reason = reason;
  self->cancel_detail = g_strdup (detail);
  devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                      "instance %s: canceled (%s): %s", self->record.instance_id,
                      devbg_cancel_reason_to_string (reason), detail);

  if (self->state == DEVBG_INSTANCE_STARTING)
    return; /* the start sees the cancel and finishes */
  self->state = DEVBG_INSTANCE_CANCELING;
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
  g_clear_handle_id (&self->wall_clock_timer, g_source_remove);
  g_clear_handle_id (&self->io_timer, g_source_remove);
  g_clear_handle_id (&self->cpu_timer, g_source_remove);

  packet = devbg_channel_encode_cancel (reason, detail, &error);
  if (packet == NULL || self->channel_fd < 0 ||
      !devbg_channel_send_bytes (self->channel_fd, packet, &error))
    devbg_log_instance (G_LOG_LEVEL_DEBUG, &self->record,
                        "instance %s: cannot tell the task: %s", self->record.instance_id,
                        error ? error->message : "channel closed");
  self->grace_timer = g_timeout_add ((guint) (self->config->cancel_grace_period * 1000),
                                     on_grace_over, self);
}

void
devbg_instance_terminate (DevbgInstance *self, DevbgCancelReason reason, const char *detail)
{
  if (self->state == DEVBG_INSTANCE_FINISHED)
    return;
  devbg_instance_cancel (self, reason, detail);
  kill_tree (self);
  if (self->process != NULL && self->child_watch != 0)
    {
      int status = 0;

      /* Reap it here: the main loop will not run again for it. */
      g_clear_handle_id (&self->child_watch, g_source_remove);
      if (waitpid (self->process->pid, &status, 0) == self->process->pid)
        {
          self->exited = TRUE;
          self->wait_status = status;
          devbg_task_process_reaped (self->process);
        }
    }
  finish (self);
}

/* ---- runtime policies ---- */

static void
cancel_on_verdict (DevbgInstance *self, DevbgVerdict verdict)
{
  if (verdict.cancel)
    devbg_instance_cancel (self, verdict.reason, verdict.detail);
  devbg_verdict_clear (&verdict);
}

static gboolean
on_wall_clock (gpointer user_data)
{
  DevbgInstance *self = user_data;
  double elapsed = (double) (g_get_monotonic_time () - self->started_mono) / G_USEC_PER_SEC;

  self->wall_clock_timer = 0;
  /* The timer was set, after started_mono, to fire at the limit; GLib
   * fires it no earlier, so the policy sees the limit reached. */
  cancel_on_verdict (self, devbg_policy_check_wall_clock (self->config, self->record.trigger,
                                                          elapsed));
  return G_SOURCE_REMOVE;
}

static gboolean
on_io_window (gpointer user_data)
{
  DevbgInstance *self = user_data;
  guint64 now = self->device != NULL ? devbg_devices_get_io_counter (self->devices, self->device)
                                     : self->io_last;
  guint64 before = self->io_last;

  self->io_last = now;
  if (self->kept_alive_io)
    self->kept_alive_io = FALSE;
  else
    cancel_on_verdict (self, devbg_policy_check_io (self->config, self->record.trigger, before,
                                                    now));
  if (self->state != DEVBG_INSTANCE_RUNNING)
    {
      self->io_timer = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_cpu_window (gpointer user_data)
{
  DevbgInstance *self = user_data;
  guint64 now = cpu_used_us (self);
  guint64 used = now - MIN (now, self->cpu_last_us);

  self->cpu_last_us = now;
  if (self->kept_alive_cpu)
    self->kept_alive_cpu = FALSE;
  else
    cancel_on_verdict (self, devbg_policy_check_cpu (self->config, used, self->cpu_mhz));
  if (self->state != DEVBG_INSTANCE_RUNNING)
    {
      self->cpu_timer = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
on_device_removed (DevbgDevices *devices, DevbgDevice *device, gpointer user_data)
{
  DevbgInstance *self = user_data;

  (void) devices;
  if (g_strcmp0 (devbg_device_get_id (device), self->record.device_id) != 0)
    return;
  g_clear_object (&self->device);
  /* One that completed is leaving and takes no cancel. */
  if (self->completed)
    note_removal (self);
  else
    cancel_on_verdict (self, devbg_policy_check_removal (self->record.trigger,
                                                         self->record.device_id));
}

/* Rounded up: a timer set for a limit must not fire before it. */
static guint
seconds_to_ms (double s)
{
  return (guint) MIN (ceil (s * 1000.0), (double) G_MAXUINT);
}

static void
start_cpu_window (DevbgInstance *self)
{
  double window = devbg_policy_cpu_window (self->config, self->screen_locked);

  g_clear_handle_id (&self->cpu_timer, g_source_remove);
  self->cpu_last_us = cpu_used_us (self);
  self->cpu_timer = g_timeout_add (seconds_to_ms (window), on_cpu_window, self);
  devbg_log_instance (G_LOG_LEVEL_DEBUG, &self->record,
                      "instance %s: CPU window %g s (screen %s)", self->record.instance_id, window,
           self->screen_locked ? "locked" : "unlocked");
}

void
devbg_instance_set_screen_locked (DevbgInstance *self, gboolean locked)
{
  if (self->screen_locked == locked)
    return;
  self->screen_locked = locked;
  if (self->state == DEVBG_INSTANCE_RUNNING && self->cpu_timer != 0)
    start_cpu_window (self);
}

static void
start_policies (DevbgInstance *self)
{
  self->started_mono = g_get_monotonic_time ();
  self->wall_clock_timer = g_timeout_add (
    seconds_to_ms (devbg_policy_wall_clock_limit (self->config, self->record.trigger)),
    on_wall_clock, self);
  if (devbg_policy_requires_io (self->record.trigger))
    {
      self->io_last = self->device ? devbg_devices_get_io_counter (self->devices, self->device) : 0;
      self->io_timer = g_timeout_add (seconds_to_ms (self->config->io_activity_window),
                                      on_io_window, self);
    }
  if (self->config->cpu_floor_ms > 0)
    start_cpu_window (self);
  self->removed_handler = g_signal_connect (self->devices, "device-removed",
                                            G_CALLBACK (on_device_removed), self);
}

/* ---- start ---- */

/* Sent before the task is spawned, into the socket's buffer: the trigger
 * is waiting when the task starts, and a task that exits at once (having
 * sent COMPLETE without reading it) cannot make this send fail. */
static gboolean
send_trigger (DevbgInstance *self, int fd, GError **error)
{
  DevbgChannelMessage msg = {
    .type = DEVBG_CHANNEL_MSG_TRIGGER,
    .instance_id = self->record.instance_id,
    .task_id = self->record.task_id,
    .entry_point = self->record.entry_point,
    .device_id = self->record.device_id,
    .arguments = self->arguments,
    .expected_duration_ms = self->expected_duration_ms,
    .trigger_type = self->record.trigger,
  };

  return devbg_channel_send (fd, &msg, error);
}

/* Who the task process runs as. */
typedef struct {
  uid_t   uid;
  gid_t   gid;
  GArray *groups; /* gid_t: the supplementary groups, primary gid included */
} TaskIdentity;

static void
task_identity_clear (TaskIdentity *identity)
{
  g_clear_pointer (&identity->groups, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TaskIdentity, task_identity_clear)

static gboolean
refuse_root (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
refuse_root (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *why = NULL;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_ACCESS_DENIED, "tasks never run as root: %s", why);
  return FALSE;
}

/* The caller's uid, gid and groups, except that tasks never run as root:
 * a root caller's task runs as TaskUserForRoot. Whatever resolves to uid
 * or primary gid 0 is refused; the supplementary group 0 (root) is dropped. */
static gboolean
resolve_task_identity (DevbgInstance *self, TaskIdentity *out, GError **error)
{
  const char *user = self->user_name;
  g_autofree char *root_user = NULL;

  out->uid = self->record.uid;
  out->gid = self->gid;
  if (out->uid == 0)
    {
      const char *name = self->config->task_user_for_root;
      struct passwd pwbuf, *pw = NULL;
      char buf[4096];

      if (getpwnam_r (name, &pwbuf, buf, sizeof buf, &pw) != 0 || pw == NULL)
        return refuse_root (error, "TaskUserForRoot=%s, the user a root caller's task runs as, "
                            "does not exist", name);
      if (pw->pw_uid == 0 || pw->pw_gid == 0)
        return refuse_root (error, "TaskUserForRoot=%s is uid %u, gid %u", name,
                            (guint) pw->pw_uid, (guint) pw->pw_gid);
      out->uid = pw->pw_uid;
      out->gid = pw->pw_gid;
      user = root_user = g_strdup (pw->pw_name);
    }
  if (out->gid == 0)
    return refuse_root (error, "uid %u has the primary group 0", (guint) out->uid);

  /* A uid with no passwd entry gets its primary gid alone. */
  if (user == NULL || !devbg_spawn_lookup_groups (user, out->gid, &out->groups, NULL))
    {
      out->groups = g_array_new (FALSE, FALSE, sizeof (gid_t));
      g_array_append_val (out->groups, out->gid);
    }
  for (guint i = out->groups->len; i > 0; i--)
    if (g_array_index (out->groups, gid_t, i - 1) == 0)
      {
        devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                            "instance %s: uid %u's task runs without its supplementary group 0 (root)",
                            
                            self->record.instance_id, (guint) out->uid);
        g_array_remove_index (out->groups, i - 1);
      }
  return TRUE;
}

/* flatpak run needs a home it can write (~/.var/app/<id>, its instance
 * directory): the user's own when it has one, else one that devbgd keeps
 * for that uid under the configured root. */
static char *
flatpak_task_home (DevbgInstance *self, const TaskIdentity *identity, GError **error)
{
  struct passwd pwbuf, *pw = NULL;
  char buf[4096];
  struct stat st;
  g_autofree char *home = NULL;

  if (getpwuid_r (identity->uid, &pwbuf, buf, sizeof buf, &pw) == 0 && pw != NULL &&
      pw->pw_dir[0] == '/' && stat (pw->pw_dir, &st) == 0 && S_ISDIR (st.st_mode) &&
      st.st_uid == identity->uid)
    return g_strdup (pw->pw_dir);
  if (self->flatpak->task_home_root == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "uid %u has no home of its own for "
                   "flatpak run, and devbgd has no --flatpak-home-dir", (unsigned) identity->uid);
      return NULL;
    }
  home = g_strdup_printf ("%s/%u", self->flatpak->task_home_root, (unsigned) identity->uid);
  if ((g_mkdir_with_parents (self->flatpak->task_home_root, 0711) != 0) ||
      (mkdir (home, 0700) != 0 && errno != EEXIST) ||
      lstat (home, &st) != 0 || !S_ISDIR (st.st_mode) ||
      (st.st_uid != identity->uid && chown (home, identity->uid, identity->gid) != 0))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "cannot make %s, the home of uid "
                   "%u for flatpak run: %s", home, (unsigned) identity->uid, g_strerror (errno));
      return NULL;
    }
  return g_steal_pointer (&home);
}

static void
log_task_piece (DevbgInstance *self, TaskOutput *out, const char *line, gsize len)
{
  g_autofree char *valid = NULL;

  if (self->output_logged >= MAX_TASK_OUTPUT)
    return;
  self->output_logged += len + TASK_OUTPUT_LINE_COST;
  valid = g_utf8_make_valid (line, (gssize) len);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_INFO,
                    "DEVBG_INSTANCE", self->record.instance_id,
                    "DEVBG_APP", self->record.app_id,
                    "DEVBG_TASK_OUTPUT", out->name,
                    "MESSAGE", "instance %s: %s: %s", self->record.instance_id, out->name, valid);
  /* Said once, whichever stream spent the budget. */
  if (self->output_logged >= MAX_TASK_OUTPUT)
    devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                        "instance %s: its output reached %d bytes (each line counted as %d "
                        "more than its length); the rest of the task's output is dropped",
                        self->record.instance_id, MAX_TASK_OUTPUT, TASK_OUTPUT_LINE_COST);
}

/* A long line is logged in pieces of at most MAX_TASK_OUTPUT_LINE bytes. */
static void
log_task_line (DevbgInstance *self, TaskOutput *out, const char *line, gsize len)
{
  do
    {
      gsize piece = MIN (len, MAX_TASK_OUTPUT_LINE);

      log_task_piece (self, out, line, piece);
      line += piece;
      len -= piece;
    }
  while (len > 0);
}

/* Logs the complete lines in out->line; at end of stream, the rest too. */
static void
flush_task_lines (DevbgInstance *self, TaskOutput *out, gboolean at_end)
{
  char *start = out->line->str, *nl;

  while ((nl = memchr (start, '\n', out->line->len - (gsize) (start - out->line->str))) != NULL)
    {
      log_task_line (self, out, start, (gsize) (nl - start));
      start = nl + 1;
    }
  g_string_erase (out->line, 0, (gssize) (start - out->line->str));
  /* An overlong line is logged in pieces rather than buffered. */
  if (out->line->len >= MAX_TASK_OUTPUT_LINE || (at_end && out->line->len > 0))
    {
      log_task_line (self, out, out->line->str, out->line->len);
      g_string_truncate (out->line, 0);
    }
}

static void
close_task_output (TaskOutput *out)
{
  g_clear_handle_id (&out->watch, g_source_remove);
  if (out->fd >= 0)
    close (out->fd);
  out->fd = -1;
  if (out->line != NULL)
    g_string_free (out->line, TRUE);
  out->line = NULL;
}

static gboolean on_task_output (int fd, GIOCondition condition, gpointer user_data);

static gboolean
on_task_output_pause_over (gpointer user_data)
{
  TaskOutput *out = user_data;

  out->watch = g_unix_fd_add (out->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_task_output,
                              out->instance);
  return G_SOURCE_REMOVE;
}

/* The budget is spent: reads and drops at most TASK_OUTPUT_DROP_BYTES,
 * then pauses before watching the pipe again. Called from the pipe's
 * watch, whose source it always ends. */
static gboolean
drop_task_output (TaskOutput *out)
{
  char buf[TASK_OUTPUT_READ_SIZE];
  gsize dropped = 0;

  g_string_truncate (out->line, 0);
  while (dropped < TASK_OUTPUT_DROP_BYTES)
    {
      ssize_t n = read (out->fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n <= 0)
        {
          out->watch = 0;
          close_task_output (out);
          return G_SOURCE_REMOVE;
        }
      dropped += (gsize) n;
    }
  out->watch = g_timeout_add (TASK_OUTPUT_DROP_PAUSE_MS, on_task_output_pause_over, out);
  return G_SOURCE_REMOVE;
}

static gboolean
on_task_output (int fd, GIOCondition condition, gpointer user_data)
{
  DevbgInstance *self = user_data;
  TaskOutput *out = fd == self->output[0].fd ? &self->output[0] : &self->output[1];
  char buf[TASK_OUTPUT_READ_SIZE];
  ssize_t n;

  if (self->output_logged >= MAX_TASK_OUTPUT)
    return drop_task_output (out);
  n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      flush_task_lines (self, out, TRUE);
      out->watch = 0;
      close_task_output (out);
      return G_SOURCE_REMOVE;
    }
  g_string_append_len (out->line, buf, n);
  flush_task_lines (self, out, FALSE);
  return G_SOURCE_CONTINUE;
}

/* A pipe for one output stream; its write end goes to the task. Without
 * one, the output goes to /dev/null (spawn's default for -1). */
static int
open_task_output (DevbgInstance *self, TaskOutput *out, const char *name)
{
  int fds[2];

  out->instance = self;
  out->name = name;
  if (!g_unix_open_pipe (fds, FD_CLOEXEC, NULL))
    return -1;
  g_unix_set_fd_nonblocking (fds[0], TRUE, NULL);
  out->fd = fds[0];
  out->line = g_string_new (NULL);
  out->watch = g_unix_fd_add (out->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_task_output, self);
  return fds[1];
}

gboolean
devbg_instance_prepare (DevbgInstance *self, GError **error)
{
  int output_w[2] = { -1, -1 };
  int pair[2] = { -1, -1 };
  const char *argv[] = { self->executable, self->record.entry_point, NULL };
  g_auto(GStrv) flatpak_argv = NULL;
  g_auto(GStrv) flatpak_env = NULL;
  g_autofree char *home = NULL;
  g_autoptr(GArray) groups = NULL;
  g_autoptr(GError) local_error = NULL;
  g_auto(TaskIdentity) identity = { 0 };
  DevbgSpawnOptions options = { 0 };
  gboolean ok = FALSE;

  g_return_val_if_fail (self->state == DEVBG_INSTANCE_STARTING && self->plan == NULL, FALSE);

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    {
      int err = errno;
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "cannot make the control channel: %s",
                   g_strerror (err));
      goto out;
    }
  if (!send_trigger (self, pair[0], &local_error))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "cannot send the trigger details: %s",
                   local_error->message);
      goto out;
    }

  if (!resolve_task_identity (self, &identity, error))
    goto out;

  options.executable = self->executable;
  options.argv = argv;
  if (self->flatpak != NULL)
    {
      /* Inside a new instance of the app's own sandbox: flatpak run hands
       * its inherited fds 0-4 on to bubblewrap, and bubblewrap stays in the
       * instance's cgroup, so the tree is supervised as a host task's is. */
      if (self->flatpak->user && identity.uid != self->flatpak->owner)
        {
          /* A root caller's task would run as TaskUserForRoot, who has no
           * business in root's own installation. */
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_ACCESS_DENIED, "app %s comes from uid "
                       "%u's own Flatpak installation, whose tasks run only as that user, not "
                       "as uid %u", self->record.app_id, (unsigned) self->flatpak->owner,
                       (unsigned) identity.uid);
          goto out;
        }
      if ((home = flatpak_task_home (self, &identity, error)) == NULL)
        goto out;
      flatpak_argv = devbg_flatpak_task_argv (self->flatpak, self->executable,
                                              self->record.entry_point);
      flatpak_env = devbg_flatpak_task_environ (self->flatpak, home);
      options.executable = DEVBG_FLATPAK_BINARY;
      options.argv = (const char *const *) flatpak_argv;
      options.extra_env = (const char *const *) flatpak_env;
    }
  options.uid = identity.uid;
  options.gid = identity.gid;
  groups = g_steal_pointer (&identity.groups);
  options.groups = (const gid_t *) groups->data;
  options.n_groups = groups->len;
  options.device_fd = -1; /* given to devbg_instance_start() */
  options.channel_fd = pair[1];
  if (self->log_fd >= 0)
    options.stdout_fd = options.stderr_fd = self->log_fd;
  else
    {
      output_w[0] = open_task_output (self, &self->output[0], "stdout");
      output_w[1] = open_task_output (self, &self->output[1], "stderr");
      options.stdout_fd = output_w[0];
      options.stderr_fd = output_w[1];
    }
  options.instance_id = self->record.instance_id;
  options.nice = DEVBG_SPAWN_DEFAULT_NICE;
  options.sched = DEVBG_SPAWN_SCHED_BATCH;
  options.cgroup_parent = self->cgroup_parent;
  options.cpu_weight = 10;

  self->plan = devbg_spawn_prepare (&options, error);
  if (self->plan == NULL)
    goto out;
  close (pair[1]); /* the plan has its own copy */
  pair[1] = -1;
  self->channel_fd = pair[0];
  pair[0] = -1;
  g_unix_set_fd_nonblocking (self->channel_fd, TRUE, NULL);
  self->task_uid = identity.uid;
  self->task_gid = identity.gid;
  ok = TRUE;

out:
  /* The plan, and then the task, have their own copies of the write
   * ends: the pipe ends when the task and its children do. */
  for (guint i = 0; i < G_N_ELEMENTS (output_w); i++)
    if (output_w[i] >= 0)
      close (output_w[i]);
  if (!ok)
    for (guint i = 0; i < G_N_ELEMENTS (self->output); i++)
      close_task_output (&self->output[i]);
  if (pair[0] >= 0)
    close (pair[0]);
  if (pair[1] >= 0)
    close (pair[1]);
  return ok;
}


gboolean
devbg_instance_start (DevbgInstance *self, int device_fd, GError **error)
{
  g_return_val_if_fail (self->state == DEVBG_INSTANCE_STARTING && self->plan != NULL, FALSE);

  self->process = devbg_spawn_start (self->plan, device_fd, error);
  g_clear_pointer (&self->plan, devbg_spawn_plan_free);
  if (device_fd >= 0)
    close (device_fd);
  if (self->process == NULL)
    {
      close_channel (self);
      for (guint i = 0; i < G_N_ELEMENTS (self->output); i++)
        close_task_output (&self->output[i]);
      return FALSE;
    }

  self->record.pid = self->process->pid;
  self->record.pid_start = devbg_process_start_time (self->process->pid);
  self->record.cgroup = g_strdup (self->process->cgroup_path);
  self->state = DEVBG_INSTANCE_RUNNING;
  devbg_log_instance (G_LOG_LEVEL_INFO, &self->record,
                      "instance %s: %s runs %s as pid %d, uid %u, gid %u%s%s",
                      self->record.instance_id, self->executable, self->record.entry_point,
                      (int) self->record.pid, (guint) self->task_uid, (guint) self->task_gid,
                      self->record.cgroup != NULL ? ", cgroup " : "",
                      self->record.cgroup != NULL ? self->record.cgroup : "");
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
  self->child_watch = g_child_watch_add (self->process->pid, on_child_exit, self);
  self->channel_watch = g_unix_fd_add (self->channel_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                       on_channel, self);
  self->device = devbg_devices_lookup (self->devices, self->record.device_id);
  if (self->device != NULL)
    g_object_ref (self->device);
  start_policies (self);
  return TRUE;
}

/* ---- object ---- */

DevbgInstance *
devbg_instance_new (const DevbgInstanceRecord *record, const DevbgInstanceSpec *spec)
{
  DevbgInstance *self = g_object_new (DEVBG_TYPE_INSTANCE, NULL);
  DevbgInstanceRecord *r = &self->record;

  r->instance_id = g_strdup (record->instance_id);
  r->task_id = g_strdup (record->task_id);
  r->app_id = g_strdup (record->app_id);
  r->name = g_strdup (record->name);
  r->entry_point = g_strdup (record->entry_point);
  r->trigger = record->trigger;
  r->device_id = g_strdup (record->device_id);
  r->uid = record->uid;
  r->started_us = g_get_real_time ();
  self->config = spec->config;
  self->devices = g_object_ref (spec->devices);
  self->executable = g_strdup (spec->executable);
  self->arguments = g_strdup (spec->arguments);
  self->expected_duration_ms = spec->expected_duration_ms;
  self->gid = spec->gid;
  self->user_name = g_strdup (spec->user_name);
  self->owner = g_strdup (spec->owner);
  self->cgroup_parent = g_strdup (spec->cgroup_parent);
  self->flatpak = spec->flatpak != NULL ? devbg_flatpak_origin_copy (spec->flatpak) : NULL;
  self->flatpaks = spec->flatpaks;
  self->cpu_mhz = spec->cpu_mhz;
  self->log_fd = spec->log_fd;
  return self;
}

const DevbgInstanceRecord *devbg_instance_get_record (DevbgInstance *self) { return &self->record; }
const DevbgFlatpakOrigin *devbg_instance_get_flatpak (DevbgInstance *self) { return self->flatpak; }
DevbgInstanceState devbg_instance_get_state (DevbgInstance *self) { return self->state; }
guint32 devbg_instance_get_progress (DevbgInstance *self) { return self->progress; }
const char *devbg_instance_get_owner (DevbgInstance *self) { return self->owner; }
gboolean devbg_instance_get_detached (DevbgInstance *self) { return self->detached; }
void devbg_instance_set_detached (DevbgInstance *self) { self->detached = TRUE; }

const char *
devbg_instance_get_cancel_reason (DevbgInstance *self)
{
  return self->canceled ? devbg_cancel_reason_to_string (self->cancel_reason) : "";
}

static void
devbg_instance_dispose (GObject *object)
{
  DevbgInstance *self = DEVBG_INSTANCE (object);

  /* An instance is only dropped once finished; should one be dropped
   * running, its processes must not outlive it. */
  if (self->state != DEVBG_INSTANCE_FINISHED && self->process != NULL)
    kill_tree (self);
  clear_timers (self);
  close_channel (self);
  g_clear_handle_id (&self->child_watch, g_source_remove);
  g_clear_handle_id (&self->progress_idle, g_source_remove);
  for (guint i = 0; i < G_N_ELEMENTS (self->output); i++)
    {
      if (self->output[i].line != NULL)
        flush_task_lines (self, &self->output[i], TRUE);
      close_task_output (&self->output[i]);
    }
  g_clear_object (&self->device);
  g_clear_object (&self->devices);
  G_OBJECT_CLASS (devbg_instance_parent_class)->dispose (object);
}

static void
devbg_instance_finalize (GObject *object)
{
  DevbgInstance *self = DEVBG_INSTANCE (object);
  DevbgInstanceRecord *r = &self->record;

  g_free (r->instance_id);
  g_free (r->task_id);
  g_free (r->app_id);
  g_free (r->name);
  g_free (r->entry_point);
  g_free (r->device_id);
  g_free (r->cgroup);
  g_free (r->error);
  g_free (r->cancel_reason);
  g_clear_pointer (&self->plan, devbg_spawn_plan_free);
  g_clear_pointer (&self->process, devbg_task_process_free);
  g_free (self->executable);
  g_free (self->arguments);
  g_free (self->user_name);
  g_free (self->owner);
  g_free (self->cgroup_parent);
  devbg_flatpak_origin_free (self->flatpak);
  g_free (self->completed_error);
  g_free (self->failure);
  g_free (self->cancel_detail);
  G_OBJECT_CLASS (devbg_instance_parent_class)->finalize (object);
}

static void
devbg_instance_class_init (DevbgInstanceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = devbg_instance_dispose;
  object_class->finalize = devbg_instance_finalize;
  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
  signals[SIGNAL_STATE_CHANGED] = g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                G_TYPE_NONE, 0);
}

static void
devbg_instance_init (DevbgInstance *self)
{
  self->channel_fd = -1;
  self->log_fd = -1;
  self->output[0].fd = self->output[1].fd = -1;
  self->state = DEVBG_INSTANCE_STARTING;
}

/* What ListTasks, WatchTasks and TaskChanged say of an instance; once
 * finished, with its outcome as History says it (TaskEnded). */
void
devbg_instance_record_add_entries (const DevbgInstanceRecord *r, GVariantBuilder *b)
{
  g_variant_builder_add (b, "{sv}", "instance-id", g_variant_new_string (r->instance_id));
  g_variant_builder_add (b, "{sv}", "task-id", g_variant_new_string (r->task_id));
  g_variant_builder_add (b, "{sv}", "app-id", g_variant_new_string (r->app_id));
  g_variant_builder_add (b, "{sv}", "name", g_variant_new_string (r->name));
  g_variant_builder_add (b, "{sv}", "entry-point", g_variant_new_string (r->entry_point));
  g_variant_builder_add (b, "{sv}", "trigger",
                         g_variant_new_string (devbg_trigger_type_to_string (r->trigger)));
  g_variant_builder_add (b, "{sv}", "device-id", g_variant_new_string (r->device_id));
  g_variant_builder_add (b, "{sv}", "uid", g_variant_new_uint32 (r->uid));
  g_variant_builder_add (b, "{sv}", "started-us", g_variant_new_int64 (r->started_us));
}

void
devbg_instance_add_entries (DevbgInstance *self, GVariantBuilder *b)
{
  devbg_instance_record_add_entries (&self->record, b);
  g_variant_builder_add (b, "{sv}", "state",
                         g_variant_new_string (devbg_instance_state_to_string (self->state)));
  g_variant_builder_add (b, "{sv}", "progress", g_variant_new_uint32 (self->progress));
  g_variant_builder_add (b, "{sv}", "pid", g_variant_new_int32 (self->record.pid));
  g_variant_builder_add (b, "{sv}", "detached", g_variant_new_boolean (self->detached));
  g_variant_builder_add (b, "{sv}", "cancel-reason",
                         g_variant_new_string (devbg_instance_get_cancel_reason (self)));
}

GVariant *
devbg_instance_to_variant (DevbgInstance *self)
{
  const DevbgInstanceRecord *r = &self->record;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  devbg_instance_add_entries (self, &b);
  g_variant_builder_add (&b, "{sv}", "limit-s",
                         g_variant_new_uint32 ((guint32) devbg_policy_wall_clock_limit (
                           self->config, r->trigger)));
  if (self->state == DEVBG_INSTANCE_FINISHED)
    {
      g_variant_builder_add (&b, "{sv}", "finished-us", g_variant_new_int64 (r->finished_us));
      g_variant_builder_add (&b, "{sv}", "success", g_variant_new_boolean (r->success));
      g_variant_builder_add (&b, "{sv}", "error", g_variant_new_string (r->error ? r->error : ""));
    }
  return g_variant_builder_end (&b);
}
