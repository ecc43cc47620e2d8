/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The app side, in the shape of Windows' device background tasks:
 *
 *   DevbgClient     the connection to devbgd (the system bus, or
 *                   DBUS_SYSTEM_BUS_ADDRESS)
 *   DevbgTrigger    devbg_use_trigger_new() / devbg_servicing_trigger_new()
 *   DevbgTaskBuilder  name + entry point + trigger -> register()
 *   DevbgRegistration  task ID, name, entry point, trigger; unregister()
 *   devbg_client_get_all_tasks()  the app's registrations (AllTasks)
 *   devbg_trigger_request_async()  RequestAsync(deviceId[, expectedDuration], arguments)
 *   DevbgRegistration::progress / ::completed, DevbgCompletion  the events
 *
 * The app never says who it is: devbgd derives that from the bus.
 *
 * Events: a client watches devbgd's Progress and Completed signals (it
 * calls WatchEvents when devbgd appears on the bus, and again if devbgd
 * restarts) and routes them by task ID to the live DevbgRegistration
 * objects of this client. For one task ID there is at most one live
 * object: get_all_tasks(), find_task() and register() hand out the same
 * one while the app holds it. A completion event is never dropped: one
 * that arrives (or was pending in devbgd from an earlier run) while no
 * registration object for its task has a "completed" handler stays queued
 * in the client, unacknowledged, and is delivered from an idle callback
 * once such an object is handed out again (so the app can connect its
 * handlers first) or the next event arrives; devbgd forgets it
 * (AcknowledgeEvents) only after delivery. Each event is delivered once
 * to a running app, and again at the next start only if the app ended
 * before its acknowledgement was written out (killed, or exited without
 * releasing its client): an app that acts on a completion once and for
 * all keeps the event IDs it acted on. Progress is not queued: it goes to
 * live objects, or nowhere.
 *
 * Threads: use a client and its objects from the thread whose
 * thread-default main context was current when the client was made; the
 * signals are emitted there, from its main loop.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-device-info.h"
#include "devbg-enums.h"
#include "devbg-task-info.h"

G_BEGIN_DECLS

/**
 * SECTION:devbg-client
 * @title: The app side
 * @short_description: registrations, requests, progress and completion
 *
 * The app side, in the shape of Windows' device background tasks:
 * #DevbgClient is the connection to devbgd (the system bus, or
 * DBUS_SYSTEM_BUS_ADDRESS); a #DevbgTrigger (devbg_use_trigger_new(),
 * devbg_servicing_trigger_new()) and a #DevbgTaskBuilder (name, entry point,
 * trigger) make a #DevbgRegistration; devbg_client_get_all_tasks_sync()
 * lists the app's registrations (AllTasks); devbg_trigger_request_async()
 * requests an instance (RequestAsync(deviceId[, expectedDuration],
 * arguments)); the #DevbgRegistration::progress and
 * #DevbgRegistration::completed signals, with a #DevbgCompletion, follow it.
 *
 * The app never says who it is: devbgd derives that from the bus.
 *
 * Events: a client watches devbgd's Progress and Completed signals (it
 * calls WatchEvents when devbgd appears on the bus, and again if devbgd
 * restarts) and routes them by task ID to the live #DevbgRegistration
 * objects of this client. For one task ID there is at most one live
 * object: devbg_client_get_all_tasks_sync(), devbg_client_find_task_sync()
 * and devbg_task_builder_register_sync() hand out the same one while the
 * app holds it. A completion event is never dropped: one that arrives (or
 * was pending in devbgd from an earlier run) while no registration object
 * for its task has a "completed" handler stays queued in the client,
 * unacknowledged, and is delivered from an idle callback once such an
 * object is handed out again (so the app can connect its handlers first)
 * or the next event arrives; devbgd forgets it (AcknowledgeEvents) only
 * after delivery. Each event is delivered once to a running app, and
 * again at the next start only if the app ended before its
 * acknowledgement was written out (killed, or exited without releasing
 * its client): an app that acts on a completion once and for all keeps
 * the event IDs it acted on. Progress is not queued: it goes to live
 * objects, or nowhere.
 *
 * Threads: use a client and its objects from the thread whose
 * thread-default main context was current when the client was made; the
 * signals are emitted there, from its main loop.
 */

/**
 * DevbgClient:
 *
 * The connection to devbgd, and the router of its events to the app's
 * #DevbgRegistration objects.
 *
 * Since: 0.1
 */
/**
 * DEVBG_TYPE_CLIENT:
 *
 * The #GType of #DevbgClient.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_CLIENT (devbg_client_get_type ())
G_DECLARE_FINAL_TYPE (DevbgClient, devbg_client, DEVBG, CLIENT, GObject)

/**
 * DevbgTrigger:
 *
 * A trigger: the kind of work a requested instance does (Windows'
 * DeviceUseTrigger or DeviceServicingTrigger).
 *
 * Since: 0.1
 */
/**
 * DEVBG_TYPE_TRIGGER:
 *
 * The #GType of #DevbgTrigger.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_TRIGGER (devbg_trigger_get_type ())
G_DECLARE_FINAL_TYPE (DevbgTrigger, devbg_trigger, DEVBG, TRIGGER, GObject)

/**
 * DevbgTaskBuilder:
 *
 * Collects a task's name, entry point and trigger, then registers it
 * (Windows' BackgroundTaskBuilder).
 *
 * Since: 0.1
 */
/**
 * DEVBG_TYPE_TASK_BUILDER:
 *
 * The #GType of #DevbgTaskBuilder.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_TASK_BUILDER (devbg_task_builder_get_type ())
G_DECLARE_FINAL_TYPE (DevbgTaskBuilder, devbg_task_builder, DEVBG, TASK_BUILDER, GObject)

/**
 * DevbgRegistration:
 *
 * One of the app's registered tasks (Windows'
 * BackgroundTaskRegistration); its signals follow the task's instances.
 *
 * Since: 0.1
 */
/**
 * DEVBG_TYPE_REGISTRATION:
 *
 * The #GType of #DevbgRegistration.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_REGISTRATION (devbg_registration_get_type ())
G_DECLARE_FINAL_TYPE (DevbgRegistration, devbg_registration, DEVBG, REGISTRATION, GObject)

/**
 * DevbgCompletion:
 *
 * How a task instance ended (Windows' BackgroundTaskCompletedEventArgs).
 *
 * Since: 0.1
 */
/**
 * DEVBG_TYPE_COMPLETION:
 *
 * The #GType of #DevbgCompletion.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_COMPLETION (devbg_completion_get_type ())
G_DECLARE_FINAL_TYPE (DevbgCompletion, devbg_completion, DEVBG, COMPLETION, GObject)


void             devbg_client_new_async (GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
DevbgClient     *devbg_client_new_finish (GAsyncResult *result,
                                          GError      **error);
DevbgClient     *devbg_client_new_sync (GCancellable *cancellable,
                                        GError      **error);
DevbgClient     *devbg_client_new_for_connection (GDBusConnection *connection);
GDBusConnection *devbg_client_get_connection (DevbgClient *client);

void             devbg_client_get_status_async (DevbgClient         *client,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
GVariant        *devbg_client_get_status_finish (DevbgClient  *client,
                                                 GAsyncResult *result,
                                                 GError      **error);
GVariant        *devbg_client_get_status_sync (DevbgClient  *client,
                                               GCancellable *cancellable,
                                               GError      **error);

void             devbg_client_get_all_tasks_async (DevbgClient         *client,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
GHashTable      *devbg_client_get_all_tasks_finish (DevbgClient  *client,
                                                    GAsyncResult *result,
                                                    GError      **error);
GHashTable      *devbg_client_get_all_tasks_sync (DevbgClient  *client,
                                                  GCancellable *cancellable,
                                                  GError      **error);

void               devbg_client_find_task_async (DevbgClient         *client,
                                                 const char          *name,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
DevbgRegistration *devbg_client_find_task_finish (DevbgClient  *client,
                                                  GAsyncResult *result,
                                                  GError      **error);
DevbgRegistration *devbg_client_find_task_sync (DevbgClient  *client,
                                                const char   *name,
                                                GCancellable *cancellable,
                                                GError      **error);

void             devbg_client_list_devices_async (DevbgClient         *client,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
GPtrArray       *devbg_client_list_devices_finish (DevbgClient  *client,
                                                   GAsyncResult *result,
                                                   GError      **error);
GPtrArray       *devbg_client_list_devices_sync (DevbgClient  *client,
                                                 GCancellable *cancellable,
                                                 GError      **error);

void             devbg_client_list_tasks_async (DevbgClient         *client,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
GPtrArray       *devbg_client_list_tasks_finish (DevbgClient  *client,
                                                 GAsyncResult *result,
                                                 GError      **error);
GPtrArray       *devbg_client_list_tasks_sync (DevbgClient  *client,
                                               GCancellable *cancellable,
                                               GError      **error);
void             devbg_client_watch_tasks_async (DevbgClient         *client,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
GPtrArray       *devbg_client_watch_tasks_finish (DevbgClient  *client,
                                                  GAsyncResult *result,
                                                  GError      **error);
GPtrArray       *devbg_client_watch_tasks_sync (DevbgClient  *client,
                                                GCancellable *cancellable,
                                                GError      **error);
void             devbg_client_get_history_async (DevbgClient         *client,
                                                 guint                limit,
                                                 const char          *continuation,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
GPtrArray       *devbg_client_get_history_finish (DevbgClient  *client,
                                                  GAsyncResult *result,
                                                  char        **next_continuation,
                                                  GError      **error);
GPtrArray       *devbg_client_get_history_sync (DevbgClient  *client,
                                                guint         limit,
                                                const char   *continuation,
                                                char        **next_continuation,
                                                GCancellable *cancellable,
                                                GError      **error);

void             devbg_client_detach_async (DevbgClient         *client,
                                            const char          *instance_id,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
gboolean         devbg_client_detach_finish (DevbgClient  *client,
                                             GAsyncResult *result,
                                             GError      **error);
gboolean         devbg_client_detach_sync (DevbgClient  *client,
                                           const char   *instance_id,
                                           GCancellable *cancellable,
                                           GError      **error);
void             devbg_client_cancel_async (DevbgClient         *client,
                                            const char          *instance_id,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
gboolean         devbg_client_cancel_finish (DevbgClient  *client,
                                             GAsyncResult *result,
                                             GError      **error);
gboolean         devbg_client_cancel_sync (DevbgClient  *client,
                                           const char   *instance_id,
                                           GCancellable *cancellable,
                                           GError      **error);

DevbgTrigger    *devbg_use_trigger_new (void);
DevbgTrigger    *devbg_servicing_trigger_new (void);
DevbgTriggerType devbg_trigger_get_trigger_type (DevbgTrigger *trigger);

/* Requests a task instance of @reg on @device_id (Windows'
 * trigger.RequestAsync(deviceId[, expectedDuration], arguments)). @reg
 * names the task that runs and must have been registered with a trigger of
 * this trigger's type. @arguments (may be NULL: "") is handed to the task
 * as it is, at most 16384 bytes of UTF-8. @expected_duration_s is for a
 * servicing trigger (shown in the consent prompt; 0: unknown; devbgd
 * refuses one that is not under its MaxExpectedDuration, 30 minutes by
 * default, with estimate-too-long) and must be 0 for a use trigger.
 *
 * A denial is not an error: _finish() returns the DevbgTriggerResult with
 * @reason set to devbgd's machine-readable word (devbgd decides every
 * policy, this library none; see DevbgRequestReason in devbg-enums.h and
 * devbg_request_reason_from_string()): allowed, entry-point-not-declared,
 * no-such-device, protocol-not-supported, device-not-declared,
 * estimate-too-long, no-device-metadata, not-privileged,
 * device-not-accessible, not-foreground, session-locked, already-running,
 * too-many-pending-events, device-busy, low-battery, denied-by-user,
 * consent-unavailable, device-open-failed, spawn-failed, canceled (words
 * newer than this library may come too), and @instance_id to the new instance
 * when allowed ("" otherwise). Bad arguments (checked here, before anything
 * is sent) and failed calls are errors: then it returns
 * DEVBG_RESULT_FAILED with @error set and @reason and
 * @instance_id untouched. @reason and @instance_id may be NULL.
 * devbg_trigger_request_finish_full() gives devbgd's detail too: for
 * spawn-failed, why the task program did not start. */
void               devbg_trigger_request_async (DevbgTrigger        *trigger,
                                                DevbgRegistration   *reg,
                                                const char          *device_id,
                                                const char          *arguments,
                                                guint                expected_duration_s,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
DevbgTriggerResult devbg_trigger_request_finish (DevbgTrigger  *trigger,
                                                 GAsyncResult  *result,
                                                 char         **reason,
                                                 char         **instance_id,
                                                 GError       **error);
DevbgTriggerResult devbg_trigger_request_finish_full (DevbgTrigger  *trigger,
                                                      GAsyncResult  *result,
                                                      char         **reason,
                                                      char         **instance_id,
                                                      char         **detail,
                                                      GError       **error);
DevbgTriggerResult devbg_trigger_request_sync (DevbgTrigger       *trigger,
                                               DevbgRegistration  *reg,
                                               const char         *device_id,
                                               const char         *arguments,
                                               guint               expected_duration_s,
                                               char              **reason,
                                               char              **instance_id,
                                               GCancellable       *cancellable,
                                               GError            **error);


DevbgTaskBuilder  *devbg_task_builder_new (void);
void               devbg_task_builder_set_name (DevbgTaskBuilder *builder,
                                                const char       *name);
void               devbg_task_builder_set_task_entry_point (DevbgTaskBuilder *builder,
                                                            const char       *entry_point);
void               devbg_task_builder_set_trigger (DevbgTaskBuilder *builder,
                                                   DevbgTrigger     *trigger);
void               devbg_task_builder_register_async (DevbgTaskBuilder    *builder,
                                                      DevbgClient         *client,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
DevbgRegistration *devbg_task_builder_register_finish (DevbgTaskBuilder *builder,
                                                       GAsyncResult     *result,
                                                       GError          **error);
DevbgRegistration *devbg_task_builder_register_sync (DevbgTaskBuilder *builder,
                                                     DevbgClient      *client,
                                                     GCancellable     *cancellable,
                                                     GError          **error);


const char      *devbg_registration_get_task_id (DevbgRegistration *reg);
const char      *devbg_registration_get_name (DevbgRegistration *reg);
const char      *devbg_registration_get_entry_point (DevbgRegistration *reg);
DevbgTriggerType devbg_registration_get_trigger_type (DevbgRegistration *reg);


DevbgClient     *devbg_registration_get_client (DevbgRegistration *reg);

void             devbg_registration_unregister_async (DevbgRegistration   *reg,
                                                      gboolean             cancel_task,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
gboolean         devbg_registration_unregister_finish (DevbgRegistration *reg,
                                                       GAsyncResult      *result,
                                                       GError           **error);
gboolean         devbg_registration_unregister_sync (DevbgRegistration *reg,
                                                     gboolean           cancel_task,
                                                     GCancellable      *cancellable,
                                                     GError           **error);


const char *devbg_completion_get_event_id (DevbgCompletion *completion);
const char *devbg_completion_get_task_id (DevbgCompletion *completion);
const char *devbg_completion_get_instance_id (DevbgCompletion *completion);
gboolean    devbg_completion_get_success (DevbgCompletion *completion);
const char *devbg_completion_get_error_message (DevbgCompletion *completion);
const char *devbg_completion_get_cancel_reason (DevbgCompletion *completion);
gboolean    devbg_completion_was_canceled (DevbgCompletion   *completion,
                                           DevbgCancelReason *reason);
gint64      devbg_completion_get_finished_us (DevbgCompletion *completion);
gboolean    devbg_completion_check_result (DevbgCompletion *completion,
                                           GError         **error);

G_END_DECLS
