/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-runtime"

#include "devbg-runtime.h"

#include <gio/gunixfdlist.h>
#include <pwd.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <unistd.h>
#include <string.h>

#include "devbg-error.h"
#include "devbg-log.h"
#include "devbg-names.h"
#include "devbg-spawn.h"
#include "devbg-task-watch.h"

#define MAX_ACK_IDS DEVBG_MAX_ACK_IDS
#define LOGIND_BUS_NAME "org.freedesktop.login1"

struct _DevbgRuntime {
  GObject            parent;
  const DevbgConfig *config;
  DevbgStore        *store;
  DevbgDevices      *devices;
  GDBusConnection   *connection;
  char              *object_path;
  char              *interface;
  double             cpu_mhz;
  char              *cgroup_parent; /* where instances get their cgroups; NULL: none */
  GHashTable        *instances;    /* instance ID -> DevbgInstance */
  GHashTable        *owner_watches; /* instance ID -> watch ID of its owner's name */
  GHashTable        *inhibitors;   /* instance ID -> logind inhibitor fd */
  GHashTable        *listeners;    /* unique name -> Listener */
  GHashTable        *listener_watches; /* unique name -> watch ID */
  DevbgTaskWatch    *task_watch;   /* tools following all tasks they may see */
  GQueue             unstored;     /* Completions the store refused, oldest first */
  guint              retry_id;     /* their retry timer: only while there are some */
  guint              retry_delay_s;
};

G_DEFINE_TYPE (DevbgRuntime, devbg_runtime, G_TYPE_OBJECT)

void
devbg_request_outcome_clear (DevbgRequestOutcome *outcome)
{
  g_clear_pointer (&outcome->instance_id, g_free);
  g_clear_pointer (&outcome->detail, g_free);
}

/* This CPU's clock for the liveness floor's scaling: /proc/cpuinfo's first
 * "cpu MHz", or 0 (no scaling) where it does not say. */
static double
read_cpu_mhz (void)
{
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents ("/proc/cpuinfo", &text, NULL, NULL) ||
      (p = strstr (text, "cpu MHz")) == NULL || (p = strchr (p, ':')) == NULL)
    return 0;
  return g_ascii_strtod (p + 1, NULL);
}

/* A connection that watches an owner's events. */
typedef struct {
  guint32 uid;
  char   *app_id;
} Listener;

static void
listener_free (Listener *listener)
{
  g_free (listener->app_id);
  g_free (listener);
}

static gboolean
is_owner (const DevbgCaller *caller, const DevbgInstanceRecord *record)
{
  return caller->app_id != NULL && caller->uid == record->uid &&
         strcmp (caller->app_id, record->app_id) == 0;
}

/* An app sees its own user's instances of itself only: one app never sees
 * another's, and one user's copy of an app never sees another user's.
 * Programs that are no app (devbgctl in the user's shell) see the
 * instances that run as their user, and root sees all: the person at the
 * computer can see and cancel what runs on their behalf. */
gboolean
devbg_runtime_may_see (const DevbgCaller *caller, const DevbgInstanceRecord *record)
{
  if (caller->app_id != NULL)
    return is_owner (caller, record);
  return caller->uid == 0 || caller->uid == record->uid;
}

/* ---- sleep and shutdown wait for a firmware update ---- */

typedef struct {
  DevbgRuntime *runtime;
  char         *instance_id;
} InhibitCall;

static void
on_inhibited (GObject *source, GAsyncResult *res, gpointer user_data)
{
  InhibitCall *call = user_data;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), &fds, res, &error);
  int fd = -1;

  if (reply != NULL && fds != NULL)
    {
      gint32 handle;
      g_variant_get (reply, "(h)", &handle);
      fd = g_unix_fd_list_get (fds, handle, &error);
    }
  if (fd < 0)
    g_debug ("instance %s: no sleep inhibitor from logind: %s", call->instance_id,
             error ? error->message : "no fd");
  else if (g_hash_table_contains (call->runtime->instances, call->instance_id))
    {
      g_hash_table_insert (call->runtime->inhibitors, g_strdup (call->instance_id),
                           GINT_TO_POINTER (fd));
      g_info ("instance %s: sleep and shutdown are delayed until it ends", call->instance_id);
    }
  else
    close (fd); /* it ended meanwhile */
  g_object_unref (call->runtime);
  g_free (call->instance_id);
  g_free (call);
}

/* As fwupd does during an update: a servicing task must not see the machine
 * suspend or power off under it. Where logind is absent, nothing is held. */
static void
inhibit_sleep (DevbgRuntime *self, const DevbgInstanceRecord *r)
{
  InhibitCall *call = g_new0 (InhibitCall, 1);

  call->runtime = g_object_ref (self);
  call->instance_id = g_strdup (r->instance_id);
  g_dbus_connection_call_with_unix_fd_list (
    self->connection, LOGIND_BUS_NAME, "/org/freedesktop/login1",
    "org.freedesktop.login1.Manager", "Inhibit",
    g_variant_new ("(ssss)", "sleep:shutdown", "devbgd",
                   "A device is being updated (devbg servicing task)", "block"),
    G_VARIANT_TYPE ("(h)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 5000, NULL, NULL, on_inhibited, call);
}

static void
release_inhibitor (DevbgRuntime *self, const char *instance_id)
{
  gpointer key, fd;

  if (g_hash_table_steal_extended (self->inhibitors, instance_id, &key, &fd))
    {
      close (GPOINTER_TO_INT (fd));
      g_free (key);
    }
}

/* ---- events to the app ---- */

static void
emit_to_owner (DevbgRuntime *self, const DevbgInstanceRecord *r, const char *signal,
               GVariant *params)
{
  GHashTableIter iter;
  gpointer name, value;

  g_variant_ref_sink (params);
  g_hash_table_iter_init (&iter, self->listeners);
  while (g_hash_table_iter_next (&iter, &name, &value))
    if (((Listener *) value)->uid == r->uid && strcmp (((Listener *) value)->app_id, r->app_id) == 0)
      g_dbus_connection_emit_signal (self->connection, name, self->object_path, self->interface,
                                     signal, params, NULL);
  g_variant_unref (params);
}

static void
on_instance_progress (DevbgInstance *instance, guint progress, gpointer user_data)
{
  DevbgRuntime *self = user_data;
  const DevbgInstanceRecord *r = devbg_instance_get_record (instance);

  emit_to_owner (self, r, "Progress",
               g_variant_new (DEVBG_PROGRESS_TUPLE_TYPE, r->task_id, r->instance_id, progress));
}

static void
forget_instance (DevbgRuntime *self, const char *instance_id)
{
  guint watch = GPOINTER_TO_UINT (g_hash_table_lookup (self->owner_watches, instance_id));

  if (watch != 0)
    g_bus_unwatch_name (watch);
  g_hash_table_remove (self->owner_watches, instance_id);
  release_inhibitor (self, instance_id);
  g_hash_table_remove (self->instances, instance_id);
}

/* The history stays bounded: the owner's newest HistoryMaxPerApp and none
 * older than HistoryMaxAge. A failure costs only space, so it is logged. */
static void
prune_history (DevbgRuntime *self, const DevbgInstanceRecord *r)
{
  g_autoptr(GError) error = NULL;
  DevbgOwner owner = { .uid = r->uid, .app_id = r->app_id };
  gint64 min_finished_us = g_get_real_time () - (gint64) (self->config->history_max_age * G_USEC_PER_SEC);

  if (!devbg_store_prune_history (self->store, &owner, self->config->history_max_per_app,
                                  min_finished_us, &error))
    g_warning ("%s", error->message);
}

/* A completion on its way to the store: the event ID is fixed at the
 * end of the task, so a retried write is the same event. */
typedef struct {
  DevbgInstanceRecord *r;
  char                *event_id;
  guint                failures;
} Completion;

static Completion *
completion_new (const DevbgInstanceRecord *r)
{
  Completion *c = g_new0 (Completion, 1);

  c->r = g_new (DevbgInstanceRecord, 1);
  *c->r = *r;
  c->r->instance_id = g_strdup (r->instance_id);
  c->r->task_id = g_strdup (r->task_id);
  c->r->app_id = g_strdup (r->app_id);
  c->r->name = g_strdup (r->name);
  c->r->entry_point = g_strdup (r->entry_point);
  c->r->device_id = g_strdup (r->device_id);
  c->r->cgroup = g_strdup (r->cgroup);
  c->r->error = g_strdup (r->error ? r->error : "");
  c->r->cancel_reason = g_strdup (r->cancel_reason ? r->cancel_reason : "");
  c->event_id = g_uuid_string_random ();
  return c;
}

static void
completion_free (Completion *c)
{
  devbg_instance_record_free (c->r);
  g_free (c->event_id);
  g_free (c);
}

/* Durable first, then told: the app never hears of a completion that a
 * restart could lose or report differently. */
static gboolean
store_completion (DevbgRuntime *self, Completion *c, GError **error)
{
  const DevbgInstanceRecord *r = c->r;
  DevbgEventRecord ev = {
    .event_id = c->event_id, .uid = r->uid, .app_id = r->app_id, .task_id = r->task_id,
    .instance_id = r->instance_id, .success = r->success, .error = r->error,
    .cancel_reason = r->cancel_reason, .finished_us = r->finished_us,
  };

  if (!devbg_store_finish_instance (self->store, r, &ev, error))
    return FALSE;
  prune_history (self, r);
  emit_to_owner (self, r, "Completed",
                 g_variant_new (DEVBG_EVENT_TUPLE_TYPE, c->event_id, r->task_id, r->instance_id,
                                r->success,
                              r->error, r->cancel_reason, r->finished_us));
  return TRUE;
}

static gboolean on_store_retry (gpointer user_data);

/* Stores the waiting completions in order. One the store refuses (disk
 * full, I/O error) stays, with those after it, and is retried after 1, 2,
 * 4... up to 60 s, and at the next completion; the timer exists only while
 * some wait. Unstored, the instance is still in the instances table: a
 * devbgd stopped meanwhile ends it at its next start, as after a crash. */
static void
store_completions (DevbgRuntime *self)
{
  Completion *c;

  while ((c = g_queue_peek_head (&self->unstored)) != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!store_completion (self, c, &error))
        {
          if (self->retry_id == 0)
            {
              self->retry_delay_s = CLAMP (self->retry_delay_s * 2, 1, 60);
              self->retry_id = g_timeout_add_seconds (self->retry_delay_s, on_store_retry, self);
            }
          if (c->failures++ == 0)
            devbg_log_instance (G_LOG_LEVEL_WARNING, c->r,
                                "instance %s: cannot store its completion; it is kept, not "
                                "sent, and retried (%u waiting): %s", c->r->instance_id,
                                g_queue_get_length (&self->unstored), error->message);
          return;
        }
      if (c->failures > 0)
        devbg_log_instance (G_LOG_LEVEL_WARNING, c->r,
                            "instance %s: its completion is stored after %u failed attempts, "
                            "and sent", c->r->instance_id, c->failures);
      completion_free (g_queue_pop_head (&self->unstored));
    }
  g_clear_handle_id (&self->retry_id, g_source_remove);
  self->retry_delay_s = 0;
}

static gboolean
on_store_retry (gpointer user_data)
{
  DevbgRuntime *self = user_data;

  self->retry_id = 0;
  store_completions (self);
  return G_SOURCE_REMOVE;
}

/* The one completion of an instance. */
static void
complete (DevbgRuntime *self, const DevbgInstanceRecord *r)
{
  g_queue_push_tail (&self->unstored, completion_new (r));
  store_completions (self);
}

static void
on_instance_finished (DevbgInstance *instance, gpointer user_data)
{
  DevbgRuntime *self = user_data;
  g_autofree char *id = g_strdup (devbg_instance_get_record (instance)->instance_id);

  /* A start that failed never reached the store and is not an instance
   * the app was told about; only running ones complete. */
  if (devbg_instance_get_record (instance)->pid != 0)
    complete (self, devbg_instance_get_record (instance));
  g_signal_handlers_disconnect_by_data (instance, self);
  forget_instance (self, id);
}

static void
on_owner_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgRuntime *self = user_data;
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  (void) connection;
  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (devbg_instance_get_owner (value), name) == 0 && !devbg_instance_get_detached (value))
      g_ptr_array_add (gone, g_object_ref (value));
  for (guint i = 0; i < gone->len; i++)
    devbg_instance_cancel (g_ptr_array_index (gone, i), DEVBG_CANCEL_TERMINATING,
                           "the app exited");
}

/* ---- request ---- */

typedef struct {
  DevbgInstance *instance;
  DevbgRequestOutcome outcome;
} RequestData;

static void
request_data_free (RequestData *data)
{
  g_clear_object (&data->instance);
  devbg_request_outcome_clear (&data->outcome);
  g_free (data);
}

static void
deny (GTask *task, DevbgTriggerResult result, const char *reason, char *detail)
{
  RequestData *data = g_task_get_task_data (task);

  data->outcome.result = result;
  data->outcome.reason = reason;
  data->outcome.detail = detail;
  g_info ("request denied (%s): %s", reason, detail);
  g_task_return_boolean (task, TRUE);
}

/* The one-task rule is per owner: another user's copy of the app does not
 * block this one. */
static DevbgInstance *
running_instance_of (DevbgRuntime *self, const DevbgCaller *caller)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (is_owner (caller, devbg_instance_get_record (value)))
      return value;
  return NULL;
}

/* A device is granted to one task at a time, starting, running or still
 * leaving after a cancel: a second open would take the first one's. */
static DevbgInstance *
instance_on_device (DevbgRuntime *self, const char *device_id)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (devbg_instance_get_record (value)->device_id, device_id) == 0)
      return value;
  return NULL;
}

static void
on_device_opened (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DevbgRuntime *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  DevbgInstance *instance = data->instance;
  const DevbgInstanceRecord *r = devbg_instance_get_record (instance);
  g_autofree char *id = g_strdup (r->instance_id);
  g_autoptr(GError) error = NULL;
  int fd;

  fd = devbg_devices_open_finish (DEVBG_DEVICES (source), res, &error);
  if (fd < 0)
    {
      forget_instance (self, id);
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "device-not-accessible",
            g_strdup_printf ("cannot open device %s: %s", r->device_id, error->message));
      return;
    }
  /* Canceled while its device opened (unregistered, or its app left). */
  if (devbg_instance_get_state (instance) != DEVBG_INSTANCE_STARTING ||
      *devbg_instance_get_cancel_reason (instance) != '\0')
    {
      close (fd);
      forget_instance (self, id);
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "canceled",
            g_strdup ("canceled while its device was opened (unregistered, or the app left)"));
      return;
    }
  if (!devbg_instance_start (instance, fd, &error))
    {
      forget_instance (self, id);
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "spawn-failed",
            g_strdup_printf ("cannot start the task: %s", error->message));
      return;
    }
  /* Recorded as running before the app hears "allowed": a crash from now
   * on is found at the next start, and the app gets its completion. */
  if (!devbg_store_add_instance (self->store, r, &error))
    {
      g_critical ("instance %s: %s", id, error->message);
      devbg_instance_terminate (instance, DEVBG_CANCEL_SYSTEM_POLICY, "devbgd cannot record it");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (r->trigger == DEVBG_TRIGGER_SERVICING)
    inhibit_sleep (self, r);
  data->outcome.result = DEVBG_RESULT_ALLOWED;
  data->outcome.reason = "allowed";
  data->outcome.instance_id = g_strdup (id);
  data->outcome.detail = g_strdup_printf ("started pid %d", (int) r->pid);
  g_info ("instance %s of %s (%s on %s) started as pid %d", id, r->app_id, r->entry_point,
          r->device_id, (int) r->pid);
  g_task_return_boolean (task, TRUE);
}

void
devbg_runtime_request_async (DevbgRuntime *self, const DevbgCaller *caller,
                             const DevbgRequest *request, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  RequestData *data = g_new0 (RequestData, 1);
  DevbgInstance *running;
  DevbgDevice *device;
  DevbgOwner owner = { .uid = caller->uid, .app_id = caller->app_id };
  g_autoptr(GError) error = NULL;
  gint64 pending;
  struct passwd *pw;
  g_autofree char *instance_id = NULL;
  DevbgInstanceRecord record = { 0 };
  DevbgInstanceSpec spec = { 0 };

  g_task_set_task_data (task, data, (GDestroyNotify) request_data_free);

  if (request->trigger == DEVBG_TRIGGER_SERVICING &&
      request->expected_duration_s >= self->config->max_expected_duration)
    {
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "estimate-too-long",
            g_strdup_printf ("the expected duration %u s is not under %g s",
                             request->expected_duration_s, self->config->max_expected_duration));
      return;
    }
  running = running_instance_of (self, caller);
  if (running != NULL)
    {
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "already-running",
            g_strdup_printf ("app %s of uid %u already runs instance %s; one device task at a time",
                             caller->app_id, (unsigned) caller->uid,
                             devbg_instance_get_record (running)->instance_id));
      return;
    }
  /* Pending events are capped per owner, and none is ever dropped: an app
   * that does not acknowledge its completions gets no new task. */
  pending = devbg_store_count_events (self->store, &owner, &error);
  if (pending < 0)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (pending >= self->config->max_pending_events)
    {
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "too-many-pending-events",
            g_strdup_printf ("app %s of uid %u has %" G_GINT64_FORMAT " completion events not "
                             "acknowledged (MaxPendingEvents %u)", caller->app_id,
                             (unsigned) caller->uid, pending, self->config->max_pending_events));
      return;
    }
  device = devbg_devices_lookup (self->devices, request->device_id);
  if (device == NULL)
    {
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "no-such-device",
            g_strdup_printf ("no device %s is attached", request->device_id));
      return;
    }
  running = instance_on_device (self, request->device_id);
  if (running != NULL)
    {
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "device-busy",
            g_strdup_printf ("device %s is in use by another task", request->device_id));
      return;
    }
  if (!devbg_config_protocol_allowed (self->config, request->trigger,
                                      devbg_device_get_protocol (device)))
    {
      deny (task, DEVBG_RESULT_DENIED_BY_SYSTEM, "protocol-not-supported",
            g_strdup_printf ("a %s task may not use a %s device",
                             devbg_trigger_type_to_string (request->trigger),
                             devbg_protocol_to_string (devbg_device_get_protocol (device))));
      return;
    }

  instance_id = g_uuid_string_random ();
  record.instance_id = instance_id;
  record.task_id = (char *) request->task_id;
  record.app_id = (char *) caller->app_id;
  record.name = (char *) request->name;
  record.entry_point = (char *) request->entry_point;
  record.trigger = request->trigger;
  record.device_id = (char *) request->device_id;
  record.uid = caller->uid;
  pw = getpwuid (caller->uid);
  spec.config = self->config;
  spec.devices = self->devices;
  spec.executable = request->executable;
  spec.arguments = request->arguments;
  spec.expected_duration_ms = (guint64) request->expected_duration_s * 1000;
  spec.gid = pw != NULL ? pw->pw_gid : (gid_t) caller->uid;
  spec.user_name = pw != NULL ? pw->pw_name : NULL;
  spec.owner = caller->sender;
  spec.cgroup_parent = self->cgroup_parent != NULL ? self->cgroup_parent : "";
  spec.cpu_mhz = self->cpu_mhz;
  spec.log_fd = -1;

  data->instance = devbg_instance_new (&record, &spec);
  /* In the table from now: a second request sees it, an unregister can
   * cancel it while the device opens. */
  g_hash_table_insert (self->instances, g_strdup (instance_id), g_object_ref (data->instance));
  g_signal_connect (data->instance, "progress", G_CALLBACK (on_instance_progress), self);
  g_signal_connect (data->instance, "finished", G_CALLBACK (on_instance_finished), self);
  g_hash_table_insert (self->owner_watches, g_strdup (instance_id),
                       GUINT_TO_POINTER (g_bus_watch_name_on_connection (
                         self->connection, caller->sender, G_BUS_NAME_WATCHER_FLAGS_NONE,
                         NULL, on_owner_vanished, self, NULL)));
  devbg_devices_open_async (self->devices, device, NULL, on_device_opened, g_steal_pointer (&task));
}

gboolean
devbg_runtime_request_finish (DevbgRuntime *self, GAsyncResult *result,
                              DevbgRequestOutcome *outcome, GError **error)
{
  RequestData *data = g_task_get_task_data (G_TASK (result));

  (void) self;
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *outcome = data->outcome;
  data->outcome.instance_id = NULL;
  data->outcome.detail = NULL;
  return TRUE;
}

/* ---- listeners and events ---- */

static void
on_listener_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgRuntime *self = user_data;
  guint watch = GPOINTER_TO_UINT (g_hash_table_lookup (self->listener_watches, name));

  (void) connection;
  g_hash_table_remove (self->listeners, name);
  g_hash_table_remove (self->listener_watches, name);
  if (watch != 0)
    g_bus_unwatch_name (watch);
}

void
devbg_runtime_watch_events (DevbgRuntime *self, const DevbgCaller *caller)
{
  if (!g_hash_table_contains (self->listeners, caller->sender))
    {
      Listener *listener = g_new0 (Listener, 1);

      listener->uid = caller->uid;
      listener->app_id = g_strdup (caller->app_id);
      g_hash_table_insert (self->listeners, g_strdup (caller->sender), listener);
      g_hash_table_insert (self->listener_watches, g_strdup (caller->sender),
                           GUINT_TO_POINTER (g_bus_watch_name_on_connection (
                             self->connection, caller->sender, G_BUS_NAME_WATCHER_FLAGS_NONE,
                             NULL, on_listener_vanished, self, NULL)));
    }
}

GPtrArray *
devbg_runtime_list_events (DevbgRuntime *self, const DevbgCaller *caller, gint64 cursor,
                           guint limit, GError **error)
{
  DevbgOwner owner = { .uid = caller->uid, .app_id = caller->app_id };

  return devbg_store_list_events (self->store, &owner, cursor, limit, error);
}

gboolean
devbg_runtime_acknowledge (DevbgRuntime *self, const DevbgCaller *caller,
                           const char *const *event_ids, GError **error)
{
  guint n = 0;

  for (const char *const *id = event_ids; *id != NULL; id++, n++)
    if (!g_uuid_string_is_valid (*id))
      {
        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                     "event ID '%.64s' is not a UUID", *id);
        return FALSE;
      }
  if (n > MAX_ACK_IDS)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "at most %d event IDs in one call (got %u)", MAX_ACK_IDS, n);
      return FALSE;
    }
  {
    DevbgOwner owner = { .uid = caller->uid, .app_id = caller->app_id };
    return devbg_store_ack_events (self->store, &owner, event_ids, error);
  }
}

/* ---- control of running instances ---- */

static DevbgInstance *
visible_instance (DevbgRuntime *self, const DevbgCaller *caller, const char *instance_id,
                  gboolean own_app_only, GError **error)
{
  DevbgInstance *instance = g_hash_table_lookup (self->instances, instance_id);
  const DevbgInstanceRecord *r = instance ? devbg_instance_get_record (instance) : NULL;

  /* Another app's instance is as absent as a nonexistent one. */
  if (r == NULL ||
      (own_app_only ? !is_owner (caller, r) : !devbg_runtime_may_see (caller, r)))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_TASK,
                   "no running instance %s%s", instance_id,
                   own_app_only ? " of this app" : " that the caller may see");
      return NULL;
    }
  return instance;
}

gboolean
devbg_runtime_detach (DevbgRuntime *self, const DevbgCaller *caller, const char *instance_id,
                      GError **error)
{
  DevbgInstance *instance = visible_instance (self, caller, instance_id, TRUE, error);

  if (instance == NULL)
    return FALSE;
  devbg_instance_set_detached (instance);
  devbg_log_instance (G_LOG_LEVEL_INFO, devbg_instance_get_record (instance),
                      "instance %s detached from its app", instance_id);
  return TRUE;
}

gboolean
devbg_runtime_cancel (DevbgRuntime *self, const DevbgCaller *caller, const char *instance_id,
                      GError **error)
{
  DevbgInstance *instance = visible_instance (self, caller, instance_id, FALSE, error);
  g_autofree char *detail = NULL;

  if (instance == NULL)
    return FALSE;
  detail = is_owner (caller, devbg_instance_get_record (instance))
             ? g_strdup ("canceled by the app")
             : g_strdup_printf ("canceled by uid %u", (unsigned) caller->uid);
  devbg_instance_cancel (instance, DEVBG_CANCEL_ABORT, detail);
  return TRUE;
}

void
devbg_runtime_cancel_task (DevbgRuntime *self, const DevbgOwner *owner, const char *task_id)
{
  g_autoptr(GPtrArray) hit = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const DevbgInstanceRecord *r = devbg_instance_get_record (value);
      if (r->uid == owner->uid && strcmp (r->app_id, owner->app_id) == 0 &&
          strcmp (r->task_id, task_id) == 0)
        g_ptr_array_add (hit, g_object_ref (value));
    }
  for (guint i = 0; i < hit->len; i++)
    devbg_instance_cancel (g_ptr_array_index (hit, i), DEVBG_CANCEL_ABORT,
                           "the app unregistered the task");
}

GPtrArray *
devbg_runtime_list (DevbgRuntime *self, const DevbgCaller *caller)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (devbg_runtime_may_see (caller, devbg_instance_get_record (value)))
      g_ptr_array_add (out, g_object_ref (value));
  return out;
}

guint
devbg_runtime_count (DevbgRuntime *self)
{
  return g_hash_table_size (self->instances);
}

/* ---- recovery and shutdown ---- */

/* Ends what is left of an instance a previous devbgd ran: its cgroup, or
 * the very process it started (a reused pid has another start time; the
 * task led its own process group). */
static void
kill_leftover (const DevbgInstanceRecord *rec)
{
  g_autoptr(GError) error = NULL;

  if (rec->cgroup != NULL && *rec->cgroup != '\0' && g_file_test (rec->cgroup, G_FILE_TEST_IS_DIR))
    {
      if (!devbg_cgroup_kill (rec->cgroup, &error))
        g_warning ("leftover instance %s: %s", rec->instance_id, error->message);
    }
  if (rec->pid > 0 && rec->pid_start != 0 && devbg_process_start_time (rec->pid) == rec->pid_start)
    {
      kill (-rec->pid, SIGKILL);
      kill (rec->pid, SIGKILL);
    }
  if (rec->cgroup != NULL && *rec->cgroup != '\0')
    g_rmdir (rec->cgroup);
}

static void
end_leftover (DevbgRuntime *self, DevbgInstanceRecord *rec)
{
  kill_leftover (rec);
  rec->finished_us = g_get_real_time ();
  rec->success = FALSE;
  g_free (rec->error);
  rec->error = g_strdup ("canceled (terminating): devbgd stopped while the task ran; "
                         "it was ended when devbgd started again");
  g_free (rec->cancel_reason);
  rec->cancel_reason = g_strdup (devbg_cancel_reason_to_string (DEVBG_CANCEL_TERMINATING));
  devbg_log_instance (G_LOG_LEVEL_WARNING, rec,
                      "ended instance %s of %s left running by a previous devbgd",
                      rec->instance_id, rec->app_id);
  complete (self, rec);
}

void
devbg_runtime_recover (DevbgRuntime *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) left = devbg_store_list_instances (self->store, &error);
  g_autoptr(GPtrArray) salvaged = devbg_store_take_salvaged_instances (self->store);
  const char *parent = self->cgroup_parent;

  /* The database was corrupt and is replaced: what it still showed running
   * is ended, with no completion (its registrations are gone with it). */
  for (guint i = 0; salvaged != NULL && i < salvaged->len; i++)
    {
      DevbgInstanceRecord *rec = g_ptr_array_index (salvaged, i);
      devbg_log_instance (G_LOG_LEVEL_WARNING, rec,
                          "ending instance %s of %s, found in the corrupt database",
                          rec->instance_id, rec->app_id);
      kill_leftover (rec);
    }
  if (left == NULL)
    {
      g_critical ("cannot read the instances left running: %s", error->message);
      return;
    }
  for (guint i = 0; i < left->len; i++)
    end_leftover (self, g_ptr_array_index (left, i));

  /* A crash between the spawn and its record leaves a cgroup and no row. */
  if (parent != NULL)
    {
      g_autoptr(GPtrArray) ids = devbg_cgroup_list_instances (parent, NULL);
      for (guint i = 0; ids != NULL && i < ids->len; i++)
        {
          g_autofree char *path = g_strdup_printf ("%s/instance-%s", parent,
                                                   (const char *) g_ptr_array_index (ids, i));
          g_warning ("killing unrecorded task cgroup %s", path);
          devbg_cgroup_kill (path, NULL);
          g_rmdir (path);
        }
    }
}

void
devbg_runtime_shutdown (DevbgRuntime *self)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  /* Terminating one removes it from the table: iterate over a copy. */
  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (all, g_object_ref (value));
  for (guint i = 0; i < all->len; i++)
    devbg_instance_terminate (g_ptr_array_index (all, i), DEVBG_CANCEL_TERMINATING,
                              "devbgd is stopping");
}

/* ---- object ---- */

DevbgRuntime *
devbg_runtime_new (const DevbgConfig *config, DevbgStore *store, DevbgDevices *devices,
                   GDBusConnection *connection, const char *object_path, const char *interface)
{
  DevbgRuntime *self = g_object_new (DEVBG_TYPE_RUNTIME, NULL);

  self->config = config;
  self->store = g_object_ref (store);
  self->devices = g_object_ref (devices);
  self->connection = g_object_ref (connection);
  self->object_path = g_strdup (object_path);
  self->interface = g_strdup (interface);
  self->cpu_mhz = read_cpu_mhz ();
  self->task_watch = devbg_task_watch_new (connection, object_path, interface);
  self->cgroup_parent = *config->task_cgroup_parent != '\0' ? g_strdup (config->task_cgroup_parent)
                                                             : devbg_cgroup_default_parent ();
  g_info ("task cgroups under %s", self->cgroup_parent ? self->cgroup_parent
                                                        : "(none: process groups)");
  return self;
}

static void
unwatch_all (GHashTable *watches)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, watches);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_bus_unwatch_name (GPOINTER_TO_UINT (value));
  g_hash_table_remove_all (watches);
}

static void
devbg_runtime_dispose (GObject *object)
{
  DevbgRuntime *self = DEVBG_RUNTIME (object);

  if (self->instances != NULL)
    devbg_runtime_shutdown (self);
  /* One last try; what still cannot be stored is lost, and its instance
   * is ended at the next start as if devbgd had crashed. */
  store_completions (self);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  while (!g_queue_is_empty (&self->unstored))
    {
      Completion *c = g_queue_pop_head (&self->unstored);
      g_critical ("instance %s: its completion could not be stored and is lost; the next start "
                  "reports it as ended by the stop of devbgd", c->r->instance_id);
      completion_free (c);
    }
  unwatch_all (self->owner_watches);
  unwatch_all (self->listener_watches);
  {
    GHashTableIter iter;
    gpointer fd;

    g_hash_table_iter_init (&iter, self->inhibitors);
    while (g_hash_table_iter_next (&iter, NULL, &fd))
      close (GPOINTER_TO_INT (fd));
    g_hash_table_remove_all (self->inhibitors);
  }
  g_clear_pointer (&self->instances, g_hash_table_unref);
  g_clear_object (&self->store);
  g_clear_object (&self->devices);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (devbg_runtime_parent_class)->dispose (object);
}

static void
devbg_runtime_finalize (GObject *object)
{
  DevbgRuntime *self = DEVBG_RUNTIME (object);

  g_hash_table_unref (self->owner_watches);
  g_hash_table_unref (self->listeners);
  g_hash_table_unref (self->listener_watches);
  g_clear_pointer (&self->task_watch, devbg_task_watch_free);
  g_hash_table_unref (self->inhibitors);
  g_free (self->object_path);
  g_free (self->interface);
  g_free (self->cgroup_parent);
  G_OBJECT_CLASS (devbg_runtime_parent_class)->finalize (object);
}

static void
devbg_runtime_class_init (DevbgRuntimeClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_runtime_dispose;
  G_OBJECT_CLASS (klass)->finalize = devbg_runtime_finalize;
}

static void
devbg_runtime_init (DevbgRuntime *self)
{
  self->instances = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->owner_watches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->listeners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) listener_free);
  self->inhibitors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->listener_watches = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* ---- tools watching tasks ---- */

GPtrArray *
devbg_runtime_watch_tasks (DevbgRuntime *self, const DevbgCaller *caller)
{
  /* Watching first: no change after the list is missed. */
  devbg_task_watch_add (self->task_watch, caller);
  return devbg_runtime_list (self, caller);
}
