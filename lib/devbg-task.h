/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The task side of libdevbg: what a task executable, started by devbgd for
 * one task instance, calls. One executable may host several entry points;
 * devbgd names the one to run in the trigger details it sends first.
 *
 *   static void
 *   sync_run (DevbgTaskInstance *task, gpointer data)
 *   {
 *     int fd = devbg_task_instance_get_device_fd (task);
 *     for (guint i = 0; i <= 100 && !devbg_task_instance_is_canceled (task); i += 10)
 *       {
 *         ... write a chunk to fd ...
 *         devbg_task_instance_report_progress (task, i);
 *       }
 *     if (devbg_task_instance_is_canceled (task))
 *       devbg_task_instance_complete (task, FALSE, "canceled");
 *     // returning without a deferral and without complete() = success
 *   }
 *
 *   static const DevbgTaskEntryPoint entry_points[] = {
 *     { "Vendor.Sync", sync_run, NULL },
 *     { NULL }
 *   };
 *
 *   int main (int argc, char **argv)
 *   { return devbg_task_main (argc, argv, entry_points); }
 *
 * What the process gets from devbgd (see docs/task-channel.md):
 *   fd 0, 1, 2  /dev/null or a log
 *   fd 3        DEVBG_TASK_DEVICE_FD: the granted device
 *   fd 4        DEVBG_TASK_CHANNEL_FD: the control channel (SOCK_SEQPACKET)
 * and no other fd; environment PATH, LANG, DEVBG_INSTANCE_ID,
 * DEVBG_DEVICE_FD=3, DEVBG_CHANNEL_FD=4.
 *
 * Threads: devbg_task_main() runs the entry point in the calling thread and
 * then a GMainLoop on the default main context until the task completes.
 * The canceled callback runs from that main loop (so, for an entry point
 * that works synchronously inside run(), only after run() returns; such an
 * entry point polls devbg_task_instance_is_canceled(), which is set as soon
 * as the cancel message arrives, from a channel reader thread).
 * report_progress(), keep_alive(), is_canceled(), complete() and
 * deferral_complete() may be called from any thread.
 */
#pragma once

#include <glib.h>

#include "devbg-enums.h"
#include "devbg-names.h"

G_BEGIN_DECLS

typedef struct _DevbgTaskInstance DevbgTaskInstance;
typedef struct _DevbgTaskDeferral DevbgTaskDeferral;

/* The entry point: like Windows' IBackgroundTask.Run(). When it returns,
 * the task completes successfully unless it took a deferral (then it
 * completes when every deferral is completed) or already completed. */
typedef void (*DevbgTaskRunFunc) (DevbgTaskInstance *instance,
                                  gpointer           user_data);

/* Called once, from the main loop, when devbgd cancels the instance (or the
 * channel to devbgd closes: reason DEVBG_CANCEL_TERMINATING). The task
 * should stop and complete soon; after the grace period it is killed. */
typedef void (*DevbgTaskCanceledFunc) (DevbgTaskInstance *instance,
                                       DevbgCancelReason  reason,
                                       const char        *detail,
                                       gpointer           user_data);

typedef struct {
  const char       *name;      /* as declared in the app's manifest */
  DevbgTaskRunFunc  run;
  gpointer          user_data;
} DevbgTaskEntryPoint;

/* Reads the trigger details from the control channel, runs the entry point
 * they name from @entry_points (terminated by an element whose name is
 * NULL), waits for completion and sends it. Returns the exit status for
 * main(): 0 completed successfully, 1 completed with an error, 2 could not
 * start (not started by devbgd, bad channel, unknown entry point: this is
 * also reported to devbgd as a failed completion when possible). */
int devbg_task_main (int                        argc,
                     char                     **argv,
                     const DevbgTaskEntryPoint *entry_points);

/* Trigger details. Strings are owned by the instance, valid until
 * devbg_task_main() returns. */
const char      *devbg_task_instance_get_instance_id (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_task_id (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_entry_point (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_device_id (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_arguments (DevbgTaskInstance *instance);
/* Servicing only; 0 when unknown or for a use trigger. */
guint64          devbg_task_instance_get_expected_duration_ms (DevbgTaskInstance *instance);
DevbgTriggerType devbg_task_instance_get_trigger_type (DevbgTaskInstance *instance);
/* DEVBG_TASK_DEVICE_FD. The task owns it; closing it gives the device up. */
int              devbg_task_instance_get_device_fd (DevbgTaskInstance *instance);

/* Servicing tasks: after a reset the device leaves and comes back (the
 * same device ID). Asks devbgd for the device again, waiting up to
 * @timeout_ms (at most 30 minutes) for it to be attached again, and blocks
 * until devbgd answers. On success the new device replaces the old one at
 * the same fd number (devbg_task_instance_get_device_fd(), normally
 * DEVBG_TASK_DEVICE_FD), and that fd is returned; the old one is closed.
 * On failure returns -1 with DEVBG_ERROR_NO_SUCH_DEVICE (the device did not
 * come back in time; message from devbgd), G_IO_ERROR_CANCELLED (the task
 * was canceled meanwhile), G_IO_ERROR_CLOSED (devbgd went away),
 * G_IO_ERROR_TIMED_OUT (devbgd never answered) or G_IO_ERROR_PENDING
 * (another thread is reopening). Call it from any thread but the main
 * loop's if the task relies on the canceled callback meanwhile; the
 * answer arrives through libdevbg's channel reader thread, never the
 * main loop. */
int      devbg_task_instance_reopen_device (DevbgTaskInstance *instance,
                                            guint              timeout_ms,
                                            GError           **error);

/* Sends progress to the app (through devbgd); the last value is kept. */
void     devbg_task_instance_report_progress (DevbgTaskInstance *instance,
                                              guint              progress);
guint    devbg_task_instance_get_progress (DevbgTaskInstance *instance);

/* Tells devbgd the task is alive though it neither computes nor does I/O
 * for a while on purpose (e.g. waiting for a device to reboot). */
void     devbg_task_instance_keep_alive (DevbgTaskInstance *instance);

/* Replaces the canceled callback. If the instance was already canceled,
 * @func is called from the main loop soon. */
void     devbg_task_instance_set_canceled_handler (DevbgTaskInstance     *instance,
                                                   DevbgTaskCanceledFunc  func,
                                                   gpointer               user_data);
gboolean devbg_task_instance_is_canceled (DevbgTaskInstance *instance);
/* Valid once is_canceled() is TRUE. */
DevbgCancelReason devbg_task_instance_get_cancel_reason (DevbgTaskInstance *instance);

/* Keeps the task alive after run() returns, until the deferral is
 * completed (Windows' GetDeferral()). Each deferral is completed exactly
 * once; the task completes when the last one is. The first failure wins:
 * a task completes successfully only if every deferral did. */
DevbgTaskDeferral *devbg_task_instance_get_deferral (DevbgTaskInstance *instance);
void               devbg_task_deferral_complete (DevbgTaskDeferral *deferral,
                                                 gboolean           success,
                                                 const char        *error_message);

/* Completes the task now, whatever deferrals are outstanding; later
 * completions are ignored. @error_message is required when !@success. */
void devbg_task_instance_complete (DevbgTaskInstance *instance,
                                   gboolean           success,
                                   const char        *error_message);

G_END_DECLS
