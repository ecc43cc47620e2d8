/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgRuntime: the running task instances of all apps, the apps' event
 * listeners, and the durable completion events. devbg-daemon.c turns D-Bus
 * calls into these calls; this file knows nothing of GVariant arguments.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-config.h"
#include "devbg-devices.h"
#include "devbg-consent.h"
#include "devbg-instance.h"
#include "devbg-manifest.h"
#include "devbg-store.h"

G_BEGIN_DECLS

#define DEVBG_TYPE_RUNTIME (devbg_runtime_get_type ())
G_DECLARE_FINAL_TYPE (DevbgRuntime, devbg_runtime, DEVBG, RUNTIME, GObject)

/* Who asks, as the bus and devbg-identity.c established. */
typedef struct {
  const char *sender; /* unique bus name */
  const char *app_id; /* NULL for a non-app (devbgctl, an admin) */
  uid_t       uid;
  pid_t       pid;        /* the process that made the connection */
  guint64     start_time; /* and its start time (polkit's subject) */
} DevbgCaller;

/* Everything is copied or referenced by the runtime before its first
 * asynchronous step: manifests and metadata may be reloaded meanwhile. */
typedef struct {
  const char      *task_id;
  const char      *name;
  const char      *entry_point;
  const char      *executable;   /* NULL when the entry point is not declared */
  gboolean         entry_point_declared; /* for this trigger, in today's manifest */
  DevbgManifest   *manifest;     /* today's, for its DeviceCapabilities; NULL: none */
  GPtrArray       *metadata;     /* today's device metadata (DevbgMetadata) */
  DevbgTriggerType trigger;
  const char      *device_id;
  const char      *arguments;
  guint            expected_duration_s;
} DevbgRequest;

typedef struct {
  DevbgTriggerResult result;
  const char        *reason;      /* static string: devbg_request_reason_to_string() */
  char              *instance_id; /* when allowed */
  char              *detail;      /* a sentence for logs and developers */
  /* What the app is told (Request's detail): only what its user could
   * know anyway; NULL for "". */
  char              *app_detail;
} DevbgRequestOutcome;

void devbg_request_outcome_clear (DevbgRequestOutcome *outcome);

DevbgRuntime *devbg_runtime_new (const DevbgConfig *config,
                                 DevbgStore        *store,
                                 DevbgDevices      *devices,
                                 GDBusConnection   *connection,
                                 const char        *object_path,
                                 const char        *interface);

/* Ends what a previous devbgd left running (it died or was killed):
 * kills their processes and queues their completion events. */
void devbg_runtime_recover (DevbgRuntime *runtime);

/* Gathers the facts of the request decision (devbg-decision.h), asks for
 * consent when it says so and decides again with the answer, then opens
 * the device and starts the task. A denial is an outcome, not an error. */
void devbg_runtime_request_async (DevbgRuntime        *runtime,
                                  const DevbgCaller   *caller,
                                  const DevbgRequest  *request,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
gboolean devbg_runtime_request_finish (DevbgRuntime        *runtime,
                                       GAsyncResult        *result,
                                       DevbgRequestOutcome *outcome,
                                       GError             **error);

/* The caller's connection receives its owner's (uid, app) Progress and
 * Completed signals from now on; FALSE with DEVBG_ERROR_LIMIT_EXCEEDED
 * when DEVBG_MAX_EVENT_LISTENERS of that owner's connections already do. */
gboolean   devbg_runtime_watch_events (DevbgRuntime      *runtime,
                                       const DevbgCaller *caller,
                                       GError           **error);
gboolean   devbg_runtime_acknowledge (DevbgRuntime      *runtime,
                                      const DevbgCaller *caller,
                                      const char *const *event_ids,
                                      GError           **error);

gboolean   devbg_runtime_detach (DevbgRuntime      *runtime,
                                 const DevbgCaller *caller,
                                 const char        *instance_id,
                                 GError           **error);
gboolean   devbg_runtime_cancel (DevbgRuntime      *runtime,
                                 const DevbgCaller *caller,
                                 const char        *instance_id,
                                 GError           **error);

/* The bus connection @name closed (devbgd follows NameOwnerChanged once,
 * for every caller): its instances that are not detached are canceled
 * (reason terminating), its requests still being decided start nothing. */
void       devbg_runtime_peer_vanished (DevbgRuntime *runtime,
                                        const char   *name);

/* Unregister(cancel_task=TRUE): cancels @task_id's running instances. */
void       devbg_runtime_cancel_task (DevbgRuntime     *runtime,
                                      const DevbgOwner *owner,
                                      const char       *task_id);

/* The running instances the caller may see (new references). */
GPtrArray *devbg_runtime_list (DevbgRuntime      *runtime,
                               const DevbgCaller *caller);
gboolean   devbg_runtime_may_see (const DevbgCaller         *caller,
                                  const DevbgInstanceRecord *record);

guint      devbg_runtime_count (DevbgRuntime *runtime);

/* Who is asked for consent (agents register with it). */
DevbgConsent *devbg_runtime_get_consent (DevbgRuntime *runtime);

/* The service stops: every instance is ended now, its completion stored. */
void       devbg_runtime_shutdown (DevbgRuntime *runtime);

/* A Flatpak task that ends by itself is checked against @flatpaks (which
 * must outlive the runtime) for an uninstall or update not yet reloaded. */
void       devbg_runtime_set_flatpak (DevbgRuntime *runtime,
                                      DevbgFlatpak *flatpaks);

/* Consent is asked through @consent (a reference is kept). */
void       devbg_runtime_set_consent (DevbgRuntime *runtime,
                                      DevbgConsent *consent);

/* Stored consent was revoked: cancels (SystemPolicy) @uid's running use
 * tasks of @app_id on devices of @model_id (any model when NULL); returns
 * how many. */
guint      devbg_runtime_cancel_for_consent (DevbgRuntime *runtime,
                                             guint32       uid,
                                             const char   *app_id,
                                             const char   *model_id);

/* A Flatpak app's deployment @before was uninstalled or replaced: cancels
 * (@reason) the running tasks started from it (that installation, app and
 * commit); returns how many. */
guint      devbg_runtime_cancel_flatpak (DevbgRuntime             *runtime,
                                         const DevbgFlatpakOrigin *before,
                                         DevbgCancelReason         reason);

/* WatchTasks: @caller is sent TaskChanged and TaskEnded for the instances
 * it may see, from now on while its connection lasts; returns those
 * running now, as devbg_runtime_list(). NULL with
 * DEVBG_ERROR_LIMIT_EXCEEDED when DEVBG_MAX_TASK_WATCHERS connections of
 * the caller's user already watch. */
GPtrArray *devbg_runtime_watch_tasks (DevbgRuntime      *runtime,
                                      const DevbgCaller *caller,
                                      GError           **error);

G_END_DECLS
