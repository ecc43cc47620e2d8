/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "devbg-enums.h"
#include "devbg-names.h"

G_BEGIN_DECLS

/**
 * SECTION:devbg-task
 * @title: The task side
 * @short_description: what a task executable, started by devbgd, calls
 *
 * A task executable is started by devbgd for one task instance. One
 * executable may host several entry points; devbgd names the one to run in
 * the trigger details it sends first.
 *
 * |[<!-- language="C" -->
 * static void
 * sync_run (DevbgTaskInstance *task, gpointer data)
 * {
 *   int fd = devbg_task_instance_get_device_fd (task);
 *   for (guint i = 0; i <= 100 && !devbg_task_instance_is_canceled (task); i += 10)
 *     {
 *       // ... write a chunk to fd ...
 *       devbg_task_instance_report_progress (task, i);
 *     }
 *   if (devbg_task_instance_is_canceled (task))
 *     devbg_task_instance_complete (task, FALSE, "canceled");
 *   // returning without a deferral and without complete() = success
 * }
 *
 * static const DevbgTaskEntryPoint entry_points[] = {
 *   { "Vendor.Sync", sync_run, NULL },
 *   { NULL }
 * };
 *
 * int main (int argc, char **argv)
 * { return devbg_task_main (argc, argv, entry_points); }
 * ]|
 *
 * In Python (PyGObject), with one function for every entry point:
 *
 * |[<!-- language="Python" -->
 * def run(task):
 *     for i in range(0, 101, 10):
 *         if task.is_canceled():
 *             task.complete(False, 'canceled')
 *             return
 *         task.report_progress(i)
 * sys.exit(Devbg.task_run(run))
 * ]|
 *
 * What the process gets from devbgd (see docs/task-channel.md): fd 0 on
 * /dev/null; fds 1 and 2, pipes to devbgd's log (each line logged with the
 * instance's ID, up to 64 KiB of the two together, each line counted as its
 * length plus 128 bytes: 512 lines at most); %DEVBG_TASK_DEVICE_FD, the granted device;
 * %DEVBG_TASK_CHANNEL_FD, the control channel (SOCK_SEQPACKET); and no
 * other fd. Its environment holds PATH, LANG, DEVBG_INSTANCE_ID,
 * DEVBG_DEVICE_FD=3 and DEVBG_CHANNEL_FD=4.
 *
 * Threads: devbg_task_main() runs the entry point in the calling thread and
 * then a #GMainLoop on the default main context until the task completes.
 * The canceled callback runs from that main loop (so, for an entry point
 * that works synchronously inside run(), only after run() returns; such an
 * entry point polls devbg_task_instance_is_canceled(), which is set as soon
 * as the cancel message arrives, from a channel reader thread, or passes
 * devbg_task_instance_get_cancellable() to its GIO calls, or adds
 * devbg_task_instance_get_cancel_fd() to its poll()).
 * devbg_task_instance_report_progress(), devbg_task_instance_keep_alive(),
 * devbg_task_instance_is_canceled(), devbg_task_instance_complete() and
 * devbg_task_deferral_complete() may be called from any thread.
 */

/**
 * DevbgTaskInstance:
 *
 * One running task instance, as its task process sees it. libdevbg owns
 * it: it is valid until devbg_task_main() or devbg_task_run() returns.
 *
 * Since: 0.1
 */
typedef struct _DevbgTaskInstance DevbgTaskInstance;

/**
 * DevbgTaskDeferral:
 *
 * Keeps a task running after its entry point returned, until
 * devbg_task_deferral_complete() (Windows' BackgroundTaskDeferral).
 * libdevbg owns it; completing it frees it.
 *
 * Since: 0.1
 */
typedef struct _DevbgTaskDeferral DevbgTaskDeferral;

/**
 * DEVBG_TYPE_TASK_INSTANCE:
 *
 * The #GType of #DevbgTaskInstance.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_TASK_INSTANCE (devbg_task_instance_get_type ())
GType devbg_task_instance_get_type (void) G_GNUC_CONST;

/**
 * DEVBG_TYPE_TASK_DEFERRAL:
 *
 * The #GType of #DevbgTaskDeferral.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_TASK_DEFERRAL (devbg_task_deferral_get_type ())
GType devbg_task_deferral_get_type (void) G_GNUC_CONST;

/**
 * DevbgTaskRunFunc:
 * @instance: the task instance to run
 * @user_data: the data given with the entry point
 *
 * An entry point, like Windows' IBackgroundTask.Run(). When it returns, the
 * task completes successfully unless it took a deferral (then it completes
 * when every deferral is completed) or already completed.
 *
 * Since: 0.1
 */
typedef void (*DevbgTaskRunFunc) (DevbgTaskInstance *instance,
                                  gpointer           user_data);

/**
 * DevbgTaskCanceledFunc:
 * @instance: the canceled task instance
 * @reason: why devbgd canceled it
 * @detail: devbgd's explanation, may be ""
 * @user_data: the data given to devbg_task_instance_set_canceled_handler()
 *
 * Called once, from the main loop, when devbgd cancels the instance (or the
 * channel to devbgd closes: reason %DEVBG_CANCEL_TERMINATING). The task
 * should stop and complete soon; after the grace period it is killed (and
 * the completion's error says so).
 *
 * Since: 0.1
 */
typedef void (*DevbgTaskCanceledFunc) (DevbgTaskInstance *instance,
                                       DevbgCancelReason  reason,
                                       const char        *detail,
                                       gpointer           user_data);

/**
 * DevbgTaskEntryPoint:
 * @name: the entry point's name, as declared in the app's manifest
 * @run: the function that runs it
 * @user_data: data for @run
 *
 * One entry point of a task executable, for devbg_task_main().
 *
 * Since: 0.1
 */
typedef struct {
  const char       *name;
  DevbgTaskRunFunc  run;
  gpointer          user_data;
} DevbgTaskEntryPoint;

int devbg_task_main (int                        argc,
                     char                     **argv,
                     const DevbgTaskEntryPoint *entry_points);
int devbg_task_run (DevbgTaskRunFunc run,
                    gpointer         user_data);

const char      *devbg_task_instance_get_instance_id (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_task_id (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_entry_point (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_device_id (DevbgTaskInstance *instance);
const char      *devbg_task_instance_get_arguments (DevbgTaskInstance *instance);
guint64          devbg_task_instance_get_expected_duration_ms (DevbgTaskInstance *instance);
DevbgTriggerType devbg_task_instance_get_trigger_type (DevbgTaskInstance *instance);
int              devbg_task_instance_get_device_fd (DevbgTaskInstance *instance);
int              devbg_task_instance_reopen_device (DevbgTaskInstance *instance,
                                                    guint              timeout_ms,
                                                    GError           **error);
void             devbg_task_instance_report_progress (DevbgTaskInstance *instance,
                                                      guint              progress);
guint            devbg_task_instance_get_progress (DevbgTaskInstance *instance);
void             devbg_task_instance_keep_alive (DevbgTaskInstance *instance);
void             devbg_task_instance_set_canceled_handler (DevbgTaskInstance     *instance,
                                                           DevbgTaskCanceledFunc  func,
                                                           gpointer               user_data);
gboolean         devbg_task_instance_is_canceled (DevbgTaskInstance *instance);
GCancellable    *devbg_task_instance_get_cancellable (DevbgTaskInstance *instance);
int              devbg_task_instance_get_cancel_fd (DevbgTaskInstance *instance);
DevbgCancelReason devbg_task_instance_get_cancel_reason (DevbgTaskInstance *instance);
DevbgTaskDeferral *devbg_task_instance_get_deferral (DevbgTaskInstance *instance);
void             devbg_task_deferral_complete (DevbgTaskDeferral *deferral,
                                               gboolean           success,
                                               const char        *error_message);
void             devbg_task_instance_complete (DevbgTaskInstance *instance,
                                               gboolean           success,
                                               const char        *error_message);

G_END_DECLS
