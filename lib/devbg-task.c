/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The task side of libdevbg: reads the trigger details from the control
 * channel, runs the named entry point, forwards progress, keep-alives and
 * the completion, and turns a cancel message into the canceled callback.
 */
#include "devbg-task.h"
#include "devbg-channel.h"
#include "devbg-error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

/* How long to wait for the trigger details devbgd sends right after the
 * spawn; they are normally in the socket before the task even starts. */
#define TRIGGER_TIMEOUT_MS 30000

/* How much longer than its own timeout the task waits for devbgd's answer
 * to REOPEN_DEVICE before giving up: devbgd answers when its timer fires,
 * this only guards against a devbgd that never answers. */
#define REOPEN_GRACE_MS 5000

struct _DevbgTaskInstance {
  DevbgChannelMessage trigger;   /* owns the trigger details */
  int                 channel_fd;
  gint                device_fd; /* atomic: reopen_device() may replace it */
  GMainContext       *context;
  GMainLoop          *loop;
  GThread            *reader;
  gint                progress;  /* atomic */
  gint                canceled;  /* atomic: set by the reader thread */
  GCancellable       *cancellable; /* cancelled with the instance */

  GMutex              lock;      /* protects everything below */
  DevbgCancelReason   cancel_reason;
  char               *cancel_detail;
  DevbgTaskCanceledFunc cancel_func;
  gpointer            cancel_data;
  gboolean            cancel_dispatched;
  guint               deferrals;
  gboolean            run_returned;
  gboolean            completed;
  gboolean            success;   /* so far, then final */
  char               *error_message;

  GCond               cond;      /* signalled on reopen reply, cancel, channel end */
  gboolean            channel_closed;
  gboolean            reopen_waiting;  /* a reopen_device() call waits */
  DevbgChannelMessage *reopen_reply;   /* the DEVICE_REOPENED for it */
};

struct _DevbgTaskDeferral {
  DevbgTaskInstance *instance;
};

/* Boxed types only so that bindings can pass them around: libdevbg owns
 * both (an instance lives until devbg_task_main() returns, a deferral
 * until it is completed), so a binding's copy is the same pointer and its
 * free does nothing. */
static gpointer
same_pointer (gpointer boxed)
{
  return boxed;
}

static void
owned_by_libdevbg (gpointer boxed)
{
}

G_DEFINE_BOXED_TYPE (DevbgTaskInstance, devbg_task_instance, same_pointer, owned_by_libdevbg)
G_DEFINE_BOXED_TYPE (DevbgTaskDeferral, devbg_task_deferral, same_pointer, owned_by_libdevbg)

/* ---- sending */

static void
send_or_warn (DevbgTaskInstance *self, const DevbgChannelMessage *msg)
{
  g_autoptr(GError) error = NULL;

  /* devbgd gone or channel closed: nothing to do but carry on; the reader
   * thread turns the closed channel into a cancellation. */
  if (!devbg_channel_send (self->channel_fd, msg, &error))
    g_debug ("devbg task: could not send %s: %s",
             devbg_channel_message_type_to_string (msg->type), error->message);
}

/* The protocol wants a non-empty, bounded, valid UTF-8 message on failure;
 * a task author's string is made to fit rather than refused. */
static char *
sanitize_error_message (const char *message)
{
  g_autofree char *valid = NULL;
  const char *end;

  if (message == NULL || *message == '\0')
    return g_strdup ("The task failed without giving a reason");
  valid = g_utf8_make_valid (message, -1);
  if (strlen (valid) <= DEVBG_CHANNEL_MAX_ERROR)
    return g_steal_pointer (&valid);
  end = g_utf8_find_prev_char (valid, valid + DEVBG_CHANNEL_MAX_ERROR + 1);
  return g_strndup (valid, (gsize) (end - valid));
}

/* ---- completion */

/* Records one outcome; the first failure wins. Called with the lock held. */
static void
record_outcome_locked (DevbgTaskInstance *self, gboolean success, const char *message)
{
  if (success || !self->success)
    return;
  self->success = FALSE;
  self->error_message = sanitize_error_message (message);
}

/* Marks the task completed if it now is; returns TRUE if this call did it,
 * so that exactly one caller sends the completion. Lock held. */
static gboolean
try_finish_locked (DevbgTaskInstance *self, gboolean force)
{
  if (self->completed)
    return FALSE;
  if (!force && (!self->run_returned || self->deferrals > 0))
    return FALSE;
  self->completed = TRUE;
  return TRUE;
}

static void
send_completion (DevbgTaskInstance *self)
{
  DevbgChannelMessage msg = {
    .type = DEVBG_CHANNEL_MSG_COMPLETE,
    .success = self->success,
    .error_message = self->success ? NULL : self->error_message,
  };

  send_or_warn (self, &msg);
  g_main_loop_quit (self->loop);
}

/**
 * devbg_task_instance_complete:
 * @instance: a #DevbgTaskInstance
 * @success: whether the task succeeded
 * @error_message: (nullable): what went wrong; required when @success is %FALSE
 *
 * Completes the task now, whatever deferrals are outstanding; later
 * completions are ignored.
 *
 * Only a failure carries a message: with @success %TRUE, @error_message is
 * dropped, and the app's completion (and the history) says "" (a
 * successful COMPLETE has no message, docs/task-channel.md).
 *
 * Since: 0.1
 */
void
devbg_task_instance_complete (DevbgTaskInstance *self, gboolean success, const char *error_message)
{
  gboolean finished;

  g_mutex_lock (&self->lock);
  if (!self->completed)
    record_outcome_locked (self, success, error_message);
  finished = try_finish_locked (self, TRUE);
  g_mutex_unlock (&self->lock);
  if (finished)
    send_completion (self);
}

/**
 * devbg_task_instance_get_deferral:
 * @instance: a #DevbgTaskInstance
 *
 * Keeps the task alive after its entry point returns, until the deferral is
 * completed (Windows' GetDeferral()). Each deferral is completed exactly once;
 * the task completes when the last one is.
 *
 * Returns: (transfer none): a new deferral, freed by
 *   devbg_task_deferral_complete()
 *
 * Since: 0.1
 */
DevbgTaskDeferral *
devbg_task_instance_get_deferral (DevbgTaskInstance *self)
{
  DevbgTaskDeferral *deferral = g_new0 (DevbgTaskDeferral, 1);

  deferral->instance = self;
  g_mutex_lock (&self->lock);
  self->deferrals++;
  g_mutex_unlock (&self->lock);
  return deferral;
}

/**
 * devbg_task_deferral_complete:
 * @deferral: a #DevbgTaskDeferral
 * @success: whether the work it covered succeeded
 * @error_message: (nullable): what went wrong; required when @success is %FALSE
 *
 * Completes @deferral and frees it. The first failure wins: a task completes
 * successfully only if every deferral did. As with
 * devbg_task_instance_complete(), @error_message is dropped with @success
 * %TRUE.
 *
 * Since: 0.1
 */
void
devbg_task_deferral_complete (DevbgTaskDeferral *deferral, gboolean success, const char *error_message)
{
  DevbgTaskInstance *self;
  gboolean finished;

  g_return_if_fail (deferral != NULL);
  self = deferral->instance;
  g_free (deferral);

  g_mutex_lock (&self->lock);
  g_assert (self->deferrals > 0);
  self->deferrals--;
  if (!self->completed)
    record_outcome_locked (self, success, error_message);
  finished = try_finish_locked (self, FALSE);
  g_mutex_unlock (&self->lock);
  if (finished)
    send_completion (self);
}

/* ---- progress, keep-alive */

/**
 * devbg_task_instance_report_progress:
 * @instance: a #DevbgTaskInstance
 * @progress: the progress, a percentage: 0 to 100
 *
 * Sends progress to the app (through devbgd); the last value is kept.
 *
 * A @progress above 100 is a programming error: it is refused with a
 * critical warning, nothing is sent and the last value stays (devbgd
 * would ignore it anyway, see docs/task-channel.md).
 *
 * Since: 0.1
 */
void
devbg_task_instance_report_progress (DevbgTaskInstance *self, guint progress)
{
  DevbgChannelMessage msg = { .type = DEVBG_CHANNEL_MSG_PROGRESS, .progress = progress };

  g_return_if_fail (progress <= DEVBG_CHANNEL_MAX_PROGRESS);
  g_atomic_int_set (&self->progress, (gint) progress);
  send_or_warn (self, &msg);
}

/**
 * devbg_task_instance_get_progress:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the progress last reported
 *
 * Since: 0.1
 */
guint
devbg_task_instance_get_progress (DevbgTaskInstance *self)
{
  return (guint) g_atomic_int_get (&self->progress);
}

/**
 * devbg_task_instance_keep_alive:
 * @instance: a #DevbgTaskInstance
 *
 * Tells devbgd the task is alive though it neither computes nor does I/O for a
 * while on purpose (for example while a device reboots): the I/O window and
 * the CPU window in which devbgd receives it do not count against the task,
 * so it is not canceled with %DEVBG_CANCEL_IDLE_TASK for them. Send one at
 * least once a window (IoActivityWindow, 5 s by default) while waiting. The
 * wall-clock limit of its trigger still applies.
 *
 * Since: 0.1
 */
void
devbg_task_instance_keep_alive (DevbgTaskInstance *self)
{
  DevbgChannelMessage msg = { .type = DEVBG_CHANNEL_MSG_KEEP_ALIVE };

  send_or_warn (self, &msg);
}

/* ---- cancellation */

static gboolean
dispatch_canceled (gpointer data)
{
  DevbgTaskInstance *self = data;
  DevbgTaskCanceledFunc func;
  gpointer func_data;
  g_autofree char *detail = NULL;
  DevbgCancelReason reason;

  g_mutex_lock (&self->lock);
  func = self->cancel_func;
  func_data = self->cancel_data;
  reason = self->cancel_reason;
  detail = g_strdup (self->cancel_detail);
  if (func == NULL || self->cancel_dispatched || self->completed)
    func = NULL;
  else
    self->cancel_dispatched = TRUE;
  g_mutex_unlock (&self->lock);

  if (func != NULL)
    func (self, reason, detail, func_data);
  return G_SOURCE_REMOVE;
}

static void
schedule_canceled_dispatch (DevbgTaskInstance *self)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  /* An idle source on the task's context rather than
   * g_main_context_invoke(), which would run the callback in the reader
   * thread whenever the main thread is busy inside run(). */
  g_source_set_callback (source, dispatch_canceled, self, NULL);
  g_source_set_name (source, "[devbg] task canceled");
  g_source_attach (source, self->context);
}

static void
mark_canceled (DevbgTaskInstance *self, DevbgCancelReason reason, const char *detail)
{
  g_mutex_lock (&self->lock);
  if (g_atomic_int_get (&self->canceled))
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->cancel_reason = reason;
  self->cancel_detail = g_strdup (detail != NULL ? detail : "");
  g_atomic_int_set (&self->canceled, 1);
  /* A reopen_device() waiting for the device gives up: a canceled task
   * should stop, not wait for its device. */
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  /* Thread-safe: a task blocked in GIO with it, or in poll() on its fd,
   * wakes up now, not at its next look at is_canceled(). */
  g_cancellable_cancel (self->cancellable);
  schedule_canceled_dispatch (self);
}

/**
 * devbg_task_instance_get_cancellable:
 * @instance: a #DevbgTaskInstance
 *
 * A #GCancellable that is cancelled as soon as devbgd cancels the instance
 * (or the channel to devbgd closes), from libdevbg's channel reader thread.
 * Pass it to GIO calls so that they stop at once, connect to its
 * #GCancellable::cancelled signal (emitted in that thread), or poll its fd
 * (devbg_task_instance_get_cancel_fd()).
 *
 * Returns: (transfer none): the instance's cancellable, valid as long as
 *   the instance
 *
 * Since: 0.1
 */
GCancellable *
devbg_task_instance_get_cancellable (DevbgTaskInstance *self)
{
  return self->cancellable;
}

/**
 * devbg_task_instance_get_cancel_fd:
 * @instance: a #DevbgTaskInstance
 *
 * An fd that becomes readable when the instance is canceled, for a task
 * that waits in poll() or select() on its device: add it to the set, with
 * %POLLIN, and stop when it is readable. Owned by libdevbg: do not read or
 * close it.
 *
 * Returns: the fd, or -1 if the system has no fds to spare
 *
 * Since: 0.1
 */
int
devbg_task_instance_get_cancel_fd (DevbgTaskInstance *self)
{
  return g_cancellable_get_fd (self->cancellable);
}

/**
 * devbg_task_instance_set_canceled_handler:
 * @instance: a #DevbgTaskInstance
 * @func: (scope async) (closure user_data): called once when the instance is canceled
 * @user_data: data for @func
 *
 * Replaces the canceled callback. If the instance was already canceled, @func
 * is called from the main loop soon.
 *
 * Since: 0.1
 */
void
devbg_task_instance_set_canceled_handler (DevbgTaskInstance     *self,
                                          DevbgTaskCanceledFunc  func,
                                          gpointer               user_data)
{
  gboolean pending;

  g_mutex_lock (&self->lock);
  self->cancel_func = func;
  self->cancel_data = user_data;
  pending = g_atomic_int_get (&self->canceled) && !self->cancel_dispatched;
  g_mutex_unlock (&self->lock);
  if (pending && func != NULL)
    schedule_canceled_dispatch (self);
}

/**
 * devbg_task_instance_is_canceled:
 * @instance: a #DevbgTaskInstance
 *
 * Tells whether devbgd canceled the instance. Set as soon as the cancel
 * message arrives (from libdevbg's channel reader thread), so an entry point
 * working synchronously polls it.
 *
 * Returns: %TRUE once the instance is canceled
 *
 * Since: 0.1
 */
gboolean
devbg_task_instance_is_canceled (DevbgTaskInstance *self)
{
  return g_atomic_int_get (&self->canceled) != 0;
}

/**
 * devbg_task_instance_get_cancel_reason:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: why the instance was canceled; valid once
 *   devbg_task_instance_is_canceled() is %TRUE
 *
 * Since: 0.1
 */
DevbgCancelReason
devbg_task_instance_get_cancel_reason (DevbgTaskInstance *self)
{
  DevbgCancelReason reason;

  g_mutex_lock (&self->lock);
  reason = self->cancel_reason;
  g_mutex_unlock (&self->lock);
  return reason;
}

/* Called by the reader thread: gives the DEVICE_REOPENED to the waiting
 * reopen_device() call. With no caller waiting (it timed out or was
 * canceled) the answer is late: its fd is closed with the message. */
static void
hand_over_reopen_reply (DevbgTaskInstance *self, DevbgChannelMessage *msg)
{
  g_mutex_lock (&self->lock);
  if (self->reopen_waiting && self->reopen_reply == NULL)
    {
      self->reopen_reply = msg;
      msg = NULL;
      g_cond_broadcast (&self->cond);
    }
  g_mutex_unlock (&self->lock);
  if (msg != NULL)
    {
      g_debug ("devbg task: dropping a device-reopened answer nobody waits for");
      devbg_channel_message_free (msg);
    }
}

/* Waits (lock held) for the reply, a cancellation, the channel's end or
 * @deadline; returns the reply or NULL with @error set. */
static DevbgChannelMessage *
wait_reopen_reply_locked (DevbgTaskInstance *self, gint64 deadline, GError **error)
{
  for (;;)
    {
      /* Cancel first: a canceled task gets no device, even if the answer
       * raced in just behind the cancel (its fd is closed). */
      if (g_atomic_int_get (&self->canceled))
        {
          g_clear_pointer (&self->reopen_reply, devbg_channel_message_free);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       "The task was canceled while waiting for its device");
          return NULL;
        }
      if (self->reopen_reply != NULL)
        return g_steal_pointer (&self->reopen_reply);
      if (self->channel_closed)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "The channel to devbgd closed");
          return NULL;
        }
      if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
        {
          if (self->reopen_reply != NULL)
            continue;
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "devbgd did not answer the request to reopen the device");
          return NULL;
        }
    }
}

/* Puts @new_fd in the place of the current device fd. dup2() onto the old
 * number, so that fd 3 stays "the device" for code (and child programs)
 * that hold the number, and the old, dead channel is closed in the same
 * step. */
static int
install_device_fd (DevbgTaskInstance *self, int new_fd, GError **error)
{
  int old_fd = g_atomic_int_get (&self->device_fd);

  if (old_fd < 0 || old_fd == new_fd)
    {
      g_atomic_int_set (&self->device_fd, new_fd);
      return new_fd;
    }
  if (dup2 (new_fd, old_fd) < 0)
    {
      int errsv = errno;

      close (new_fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Could not install the reopened device fd: %s", g_strerror (errsv));
      return -1;
    }
  close (new_fd);
  return old_fd;
}

/**
 * devbg_task_instance_reopen_device:
 * @instance: a #DevbgTaskInstance
 * @timeout_ms: how long to wait for the device to come back, at most 30 minutes
 * @error: return location for a #GError
 *
 * For a servicing task: after a reset the device leaves and comes back (the
 * same device ID). Asks devbgd for the device again, waiting up to
 * @timeout_ms for it to be attached again, and blocks until devbgd answers.
 * On success the new device replaces the old one at the same fd number
 * (devbg_task_instance_get_device_fd(), normally %DEVBG_TASK_DEVICE_FD); the
 * old one is closed.
 *
 * On failure the error is %DEVBG_ERROR_NO_SUCH_DEVICE (the device did not come
 * back in time; the message is devbgd's), %G_IO_ERROR_CANCELLED (the task was
 * canceled meanwhile), %G_IO_ERROR_CLOSED (devbgd went away),
 * %G_IO_ERROR_TIMED_OUT (devbgd never answered) or %G_IO_ERROR_PENDING
 * (another thread is reopening). Call it from any thread but the main loop's
 * if the task relies on the canceled callback meanwhile: the answer arrives
 * through libdevbg's channel reader thread, never the main loop.
 *
 * Returns: the device fd, or -1 with @error set
 *
 * Since: 0.1
 */
int
devbg_task_instance_reopen_device (DevbgTaskInstance *self, guint timeout_ms, GError **error)
{
  g_autoptr(DevbgChannelMessage) reply = NULL;
  DevbgChannelMessage request = { .type = DEVBG_CHANNEL_MSG_REOPEN_DEVICE,
                                  .timeout_ms = MIN (timeout_ms, DEVBG_CHANNEL_MAX_REOPEN_TIMEOUT_MS) };
  gint64 deadline;

  if (request.timeout_ms == 0)
    request.timeout_ms = 1;
  g_mutex_lock (&self->lock);
  if (self->reopen_waiting)
    {
      g_mutex_unlock (&self->lock);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                   "Another thread is already reopening the device");
      return -1;
    }
  /* Registered as waiting before the request goes out, so the reader
   * thread cannot see the answer before it knows someone wants it. */
  self->reopen_waiting = TRUE;
  g_mutex_unlock (&self->lock);

  if (!devbg_channel_send (self->channel_fd, &request, error))
    {
      g_mutex_lock (&self->lock);
      self->reopen_waiting = FALSE;
      g_mutex_unlock (&self->lock);
      return -1;
    }

  deadline = g_get_monotonic_time () +
             ((gint64) request.timeout_ms + REOPEN_GRACE_MS) * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&self->lock);
  reply = wait_reopen_reply_locked (self, deadline, error);
  self->reopen_waiting = FALSE;
  g_mutex_unlock (&self->lock);
  if (reply == NULL)
    return -1;
  if (!reply->success)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE, "%s", reply->error_message);
      return -1;
    }
  return install_device_fd (self, devbg_channel_message_steal_fd (reply), error);
}

/* The reader thread: the only reader of the channel. A blocking thread
 * rather than a main-loop source so that is_canceled() turns TRUE even
 * while the entry point works synchronously inside run(). */
static gpointer
reader_thread (gpointer data)
{
  DevbgTaskInstance *self = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(DevbgChannelMessage) msg = NULL;
      gboolean done;

      if (!devbg_channel_recv (self->channel_fd, DEVBG_CHANNEL_TO_TASK, &msg, &error) &&
          g_error_matches (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE))
        {
          /* Framing survives a bad packet, so skip it. */
          g_warning ("devbg task: ignoring a bad message from devbgd: %s", error->message);
          continue;
        }
      g_mutex_lock (&self->lock);
      done = self->completed;
      g_mutex_unlock (&self->lock);
      if (done)
        return NULL;
      if (msg == NULL)
        {
          g_mutex_lock (&self->lock);
          self->channel_closed = TRUE;
          g_cond_broadcast (&self->cond);
          g_mutex_unlock (&self->lock);
          mark_canceled (self, DEVBG_CANCEL_TERMINATING,
                         error != NULL ? error->message : "The control channel to devbgd closed");
          return NULL;
        }
      if (msg->type == DEVBG_CHANNEL_MSG_CANCEL)
        mark_canceled (self, msg->reason, msg->detail);
      else if (msg->type == DEVBG_CHANNEL_MSG_DEVICE_REOPENED)
        hand_over_reopen_reply (self, g_steal_pointer (&msg));
      else
        g_warning ("devbg task: ignoring an unexpected %s message",
                   devbg_channel_message_type_to_string (msg->type));
    }
}

/* ---- trigger details */

/**
 * devbg_task_instance_get_instance_id:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the ID devbgd gave this instance (also in DEVBG_INSTANCE_ID)
 *
 * Since: 0.1
 */
const char *
devbg_task_instance_get_instance_id (DevbgTaskInstance *self)
{
  return self->trigger.instance_id;
}

/**
 * devbg_task_instance_get_task_id:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the ID of the registration this instance runs
 *
 * Since: 0.1
 */
const char *
devbg_task_instance_get_task_id (DevbgTaskInstance *self)
{
  return self->trigger.task_id;
}

/**
 * devbg_task_instance_get_entry_point:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the entry point devbgd asked for, as declared in the manifest
 *
 * Since: 0.1
 */
const char *
devbg_task_instance_get_entry_point (DevbgTaskInstance *self)
{
  return self->trigger.entry_point;
}

/**
 * devbg_task_instance_get_device_id:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the ID of the device the app requested the task on
 *
 * Since: 0.1
 */
const char *
devbg_task_instance_get_device_id (DevbgTaskInstance *self)
{
  return self->trigger.device_id;
}

/**
 * devbg_task_instance_get_arguments:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the arguments the app passed with its request, may be ""
 *
 * Since: 0.1
 */
const char *
devbg_task_instance_get_arguments (DevbgTaskInstance *self)
{
  return self->trigger.arguments;
}

/**
 * devbg_task_instance_get_expected_duration_ms:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the expected duration the app gave with a servicing request, in
 *   milliseconds; 0 when unknown or for a use trigger
 *
 * Since: 0.1
 */
guint64
devbg_task_instance_get_expected_duration_ms (DevbgTaskInstance *self)
{
  return self->trigger.expected_duration_ms;
}

/**
 * devbg_task_instance_get_trigger_type:
 * @instance: a #DevbgTaskInstance
 *
 * Returns: the type of trigger that started the instance
 *
 * Since: 0.1
 */
DevbgTriggerType
devbg_task_instance_get_trigger_type (DevbgTaskInstance *self)
{
  return self->trigger.trigger_type;
}

/**
 * devbg_task_instance_get_device_fd:
 * @instance: a #DevbgTaskInstance
 *
 * The task owns the fd; closing it gives the device up.
 *
 * Returns: the device's fd, normally %DEVBG_TASK_DEVICE_FD; -1 when devbgd
 *   passed none
 *
 * Since: 0.1
 */
int
devbg_task_instance_get_device_fd (DevbgTaskInstance *self)
{
  return g_atomic_int_get (&self->device_fd);
}

/* ---- devbg_task_main */

static gboolean
check_channel_fd (int fd, GError **error)
{
  int type = 0;
  socklen_t len = sizeof type;

  if (getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                   "fd %d is not a devbg control channel: this program is a devbg task "
                   "and is started by devbgd", fd);
      return FALSE;
    }
  /* Programs the task runs need not see the channel. */
  fcntl (fd, F_SETFD, FD_CLOEXEC);
  return TRUE;
}

/* Blocks (bounded) for the first message, which must be the trigger. */
static DevbgChannelMessage *
receive_trigger (int fd, GError **error)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  g_autoptr(DevbgChannelMessage) msg = NULL;
  int r;

  do
    r = poll (&pfd, 1, TRIGGER_TIMEOUT_MS);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "No trigger details from devbgd");
      return NULL;
    }
  if (!devbg_channel_recv (fd, DEVBG_CHANNEL_TO_TASK, &msg, error))
    return NULL;
  if (msg == NULL || msg->type != DEVBG_CHANNEL_MSG_TRIGGER)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_BAD_MESSAGE,
                   "Expected trigger details as the first message from devbgd");
      return NULL;
    }
  return g_steal_pointer (&msg);
}

static const DevbgTaskEntryPoint *
find_entry_point (const DevbgTaskEntryPoint *entry_points, const char *name)
{
  for (const DevbgTaskEntryPoint *e = entry_points; e != NULL && e->name != NULL; e++)
    if (strcmp (e->name, name) == 0)
      return e;
  return NULL;
}

static int
fail_start (int channel_fd, const char *message)
{
  g_autofree char *text = sanitize_error_message (message);
  g_autoptr(GBytes) packet = devbg_channel_encode_complete (FALSE, text, NULL);

  fprintf (stderr, "devbg task: %s\n", text);
  if (packet != NULL && channel_fd >= 0)
    devbg_channel_send_bytes (channel_fd, packet, NULL);
  return 2;
}

static void
instance_clear (DevbgTaskInstance *self)
{
  /* A canceled dispatch still queued must not outlive the instance. */
  while (g_source_remove_by_user_data (self))
    ;
  devbg_channel_message_clear (&self->trigger);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_free (self->cancel_detail);
  g_free (self->error_message);
  g_clear_pointer (&self->reopen_reply, devbg_channel_message_free);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  g_clear_object (&self->cancellable);
}

static void
stop_reader (DevbgTaskInstance *self)
{
  /* Wakes the blocked recvmsg() with end-of-stream; the reader then sees
   * the task completed and returns. */
  shutdown (self->channel_fd, SHUT_RD);
  g_thread_join (self->reader);
  self->reader = NULL;
}

static int
run_instance (DevbgTaskInstance *self, const DevbgTaskEntryPoint *entry)
{
  gboolean finished;

  self->reader = g_thread_new ("devbg-channel", reader_thread, self);
  entry->run (self, entry->user_data);

  g_mutex_lock (&self->lock);
  self->run_returned = TRUE;
  finished = try_finish_locked (self, FALSE);
  g_mutex_unlock (&self->lock);
  if (finished)
    send_completion (self);

  g_mutex_lock (&self->lock);
  finished = self->completed;
  g_mutex_unlock (&self->lock);
  if (!finished)
    g_main_loop_run (self->loop);

  stop_reader (self);
  return self->success ? 0 : 1;
}

/* Starts the instance devbgd sent the trigger details of, and runs @entry
 * for it; @program names the executable in messages. */
static int
task_run_entry (const char *program, const DevbgTaskEntryPoint *entry_points,
                const DevbgTaskEntryPoint *any_entry)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(DevbgChannelMessage) trigger = NULL;
  const DevbgTaskEntryPoint *entry;
  DevbgTaskInstance self = { 0 };
  int status;

  /* devbgd starts a task with every signal at its default: a write to a
   * device that went away (a socket, an RFCOMM link) would kill it with
   * SIGPIPE before devbgd, told of the removal a moment later, cancels it
   * for condition-loss. The write fails with EPIPE instead. */
  signal (SIGPIPE, SIG_IGN);
  if (!check_channel_fd (DEVBG_TASK_CHANNEL_FD, &error))
    return fail_start (-1, error->message);
  trigger = receive_trigger (DEVBG_TASK_CHANNEL_FD, &error);
  if (trigger == NULL)
    return fail_start (DEVBG_TASK_CHANNEL_FD, error->message);
  entry = any_entry != NULL ? any_entry : find_entry_point (entry_points, trigger->entry_point);
  if (entry == NULL)
    {
      g_autofree char *message = g_strdup_printf ("%s hosts no entry point named '%s'",
                                                  program, trigger->entry_point);
      return fail_start (DEVBG_TASK_CHANNEL_FD, message);
    }

  self.trigger = *trigger;
  memset (trigger, 0, sizeof *trigger); /* the strings now belong to self */
  self.channel_fd = DEVBG_TASK_CHANNEL_FD;
  self.device_fd = fcntl (DEVBG_TASK_DEVICE_FD, F_GETFD) >= 0 ? DEVBG_TASK_DEVICE_FD : -1;
  self.context = g_main_context_default ();
  self.loop = g_main_loop_new (self.context, FALSE);
  self.success = TRUE;
  self.cancellable = g_cancellable_new ();
  g_mutex_init (&self.lock);
  g_cond_init (&self.cond);

  status = run_instance (&self, entry);
  instance_clear (&self);
  return status;
}

/**
 * devbg_task_main: (skip)
 * @argc: main()'s argc
 * @argv: (array length=argc): main()'s argv
 * @entry_points: (array zero-terminated=1): the entry points this
 *   executable hosts, terminated by an element whose name is %NULL
 *
 * The whole main() of a task executable: reads the trigger details from
 * the control channel, runs the entry point they name from @entry_points,
 * waits for the task to complete and sends the completion to devbgd.
 *
 * It ignores SIGPIPE: a write to a device that went away fails with
 * %EPIPE instead of killing the task, and devbgd's cancel (reason
 * condition-loss) follows.
 *
 * Returns: the exit status for main(): 0 completed successfully, 1
 *   completed with an error, 2 could not start (not started by devbgd, bad
 *   channel, unknown entry point: this is also reported to devbgd as a
 *   failed completion when possible)
 *
 * Since: 0.1
 */
int
devbg_task_main (int argc, char **argv, const DevbgTaskEntryPoint *entry_points)
{
  return task_run_entry (argc > 0 ? argv[0] : "this task executable", entry_points, NULL);
}

/**
 * devbg_task_run:
 * @run: (scope call): the entry point, called for whichever entry point
 *   devbgd names (devbg_task_instance_get_entry_point() says which)
 * @user_data: (closure run): data for @run
 *
 * Like devbg_task_main() with one function for every entry point, for a
 * task written in a language binding (a Python task calls
 * `sys.exit(Devbg.task_run(run))`). @run dispatches on the entry point's
 * name itself and completes the instance with
 * devbg_task_instance_complete() if it does not succeed. SIGPIPE is
 * ignored, as there.
 *
 * Returns: the exit status for the process, as devbg_task_main() returns it
 *
 * Since: 0.1
 */
int
devbg_task_run (DevbgTaskRunFunc run, gpointer user_data)
{
  const DevbgTaskEntryPoint any = { "*", run, user_data };

  return task_run_entry (g_get_prgname () != NULL ? g_get_prgname () : "this task executable",
                         NULL, &any);
}
