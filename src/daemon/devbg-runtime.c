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

#include "devbg-consent.h"
#include "devbg-access.h"
#include "devbg-decision.h"
#include "devbg-error.h"
#include "devbg-metadata.h"
#include "devbg-power.h"
#include "devbg-session.h"
#include "devbg-log.h"
#include "devbg-log-limit.h"
#include "devbg-names.h"
#include "devbg-spawn.h"
#include "devbg-task-watch.h"
#include "devbg-utf8.h"

#define MAX_ACK_IDS DEVBG_MAX_ACK_IDS
#define LOGIND_BUS_NAME "org.freedesktop.login1"
/* logind, UPower and polkit each get this long to answer; then the safe
 * answer (not in the foreground, no grant) is taken. */
#define SYSTEM_CALL_TIMEOUT_MS 5000

/* Signals a connection may have unread before it must answer a Ping, and
 * how many more wait here meanwhile before it is dropped
 * (devbg-peer-flow.h). */
#define SIGNAL_WINDOW 64
#define SIGNALS_QUEUED_MAX 256

/* Refused requests logged per app of a user: a caller makes these at
 * will (devbg-log-limit.h). */
#define DENIALS_LOGGED_BURST 20
#define DENIALS_LOGGED_INTERVAL_US (60 * G_USEC_PER_SEC)
#define DENIALS_LOGGED_MAX_KEYS 1024

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
  DevbgFlatpak      *flatpaks;     /* not owned; NULL: no Flatpak installations */
  GPtrArray         *requests; /* RequestData of every request being decided (not owned) */
  GHashTable        *inhibitors;   /* instance ID -> logind inhibitor fd */
  GHashTable        *listeners;    /* unique name -> Listener */
  DevbgTaskWatch    *task_watch;   /* tools following all tasks they may see */
  DevbgPeerFlow     *signal_flow;  /* listeners' and watchers' unread signals */
  DevbgLogLimit     *denials_logged; /* refusals logged, per (uid, app) */
  GQueue             unstored;     /* Completions the store refused, oldest first */
  guint              retry_id;     /* their retry timer: only while there are some */
  guint              retry_delay_s;
  /* the request decision's sources of facts */
  DevbgSession      *session;
  DevbgPower        *power;
  DevbgAccess       *access;
  DevbgConsent      *consent;
  GHashTable        *instance_sessions; /* instance ID -> the logind session it was requested from */
};

G_DEFINE_TYPE (DevbgRuntime, devbg_runtime, G_TYPE_OBJECT)

void
devbg_request_outcome_clear (DevbgRequestOutcome *outcome)
{
  g_clear_pointer (&outcome->instance_id, g_free);
  g_clear_pointer (&outcome->detail, g_free);
  g_clear_pointer (&outcome->app_detail, g_free);
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
  DevbgInstance *instance;
  int fd = -1;

  if (reply != NULL && fds != NULL)
    {
      gint32 handle;
      g_variant_get (reply, "(h)", &handle);
      fd = g_unix_fd_list_get (fds, handle, &error);
    }
  instance = g_hash_table_lookup (call->runtime->instances, call->instance_id);
  if (fd < 0)
    {
      DevbgInstanceRecord gone = { .instance_id = call->instance_id };
      devbg_log_instance (G_LOG_LEVEL_DEBUG,
                          instance != NULL ? devbg_instance_get_record (instance) : &gone,
                          "instance %s: no sleep inhibitor from logind: %s", call->instance_id,
                          error ? error->message : "no fd");
    }
  else if (instance != NULL)
    {
      g_hash_table_insert (call->runtime->inhibitors, g_strdup (call->instance_id),
                           GINT_TO_POINTER (fd));
      devbg_log_instance (G_LOG_LEVEL_INFO, devbg_instance_get_record (instance),
                          "instance %s: sleep and shutdown are delayed until it ends",
                          call->instance_id);
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

static gboolean
listens_to (const Listener *listener, const DevbgInstanceRecord *r)
{
  return listener->uid == r->uid && strcmp (listener->app_id, r->app_id) == 0;
}

/* To every listener of @r's owner, within what each reads
 * (devbg-peer-flow.h); @progress: a Progress signal, of which only the
 * latest of an instance counts. */
static void
emit_to_owner (DevbgRuntime *self, const DevbgInstanceRecord *r, const char *signal,
               GVariant *params, gboolean progress)
{
  g_autofree char *key = progress ? g_strconcat ("Progress ", r->instance_id, NULL) : NULL;
  GHashTableIter iter;
  gpointer name, value;

  g_variant_ref_sink (params);
  g_hash_table_iter_init (&iter, self->listeners);
  while (g_hash_table_iter_next (&iter, &name, &value))
    if (listens_to (value, r))
      devbg_peer_flow_send (self->signal_flow, name, ((Listener *) value)->uid, signal, params,
                            key);
  g_variant_unref (params);
}

static void
on_instance_progress (DevbgInstance *instance, guint progress, gpointer user_data)
{
  const DevbgInstanceRecord *r = devbg_instance_get_record (instance);

  emit_to_owner (user_data, r, "Progress",
                 g_variant_new (DEVBG_PROGRESS_TUPLE_TYPE, r->task_id, r->instance_id, progress),
                 TRUE);
}

typedef struct {
  DevbgRuntime *runtime;
  char         *peer;
} DroppedPeer;

static gboolean
drop_peer (gpointer user_data)
{
  DroppedPeer *d = user_data;

  g_hash_table_remove (d->runtime->listeners, d->peer);
  devbg_task_watch_remove (d->runtime->task_watch, d->peer);
  g_object_unref (d->runtime);
  g_free (d->peer);
  g_free (d);
  return G_SOURCE_REMOVE;
}

/* @peer does not read its signals: it listens and watches no more (its
 * app gets its events at its next WatchEvents). Later: the tables are
 * being walked to send it one. */
static void
on_signal_flow_dropped (const char *peer, gpointer user_data)
{
  DroppedPeer *d = g_new0 (DroppedPeer, 1);

  d->runtime = g_object_ref (user_data);
  d->peer = g_strdup (peer);
  g_idle_add (drop_peer, d);
}

static void
forget_instance (DevbgRuntime *self, const char *instance_id)
{
  release_inhibitor (self, instance_id);
  g_hash_table_remove (self->instance_sessions, instance_id);
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
    devbg_log_instance (G_LOG_LEVEL_WARNING, r, "instance %s: %s", r->instance_id,
                        error->message);
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
                              r->error, r->cancel_reason, r->finished_us), FALSE);
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

/* ---- request ---- */

/* The request, copied: manifests and metadata may be reloaded, and the
 * caller may leave, while the facts are gathered and consent is asked. */
typedef struct {
  char            *sender, *app_id;
  uid_t            uid;
  pid_t            pid;
  guint64          start_time;
  char            *task_id, *name, *entry_point, *executable, *device_id, *arguments;
  DevbgTriggerType trigger;
  guint            expected_duration_s;
  gboolean         entry_point_declared;
  DevbgManifest   *manifest;
  GPtrArray       *metadata;
  /* facts found asynchronously */
  DevbgSessionInfo *session;
  gboolean         accessible;
  DevbgConsentAnswer consent;
  char            *consent_why;
  DevbgRuntime    *runtime;
  gboolean         sender_gone;  /* its connection closed while it was decided */
  DevbgInstance   *instance;
  GError          *prepare_error; /* the task's process could not be made ready */
  DevbgRequestOutcome outcome;
  gboolean         asking_consent; /* its consent prompt waits for the person */
} RequestData;

static void
request_data_free (RequestData *data)
{
  g_ptr_array_remove_fast (data->runtime->requests, data);
  g_free (data->sender);
  g_free (data->app_id);
  g_free (data->task_id);
  g_free (data->name);
  g_free (data->entry_point);
  g_free (data->executable);
  g_free (data->device_id);
  g_free (data->arguments);
  g_clear_pointer (&data->manifest, devbg_manifest_unref);
  g_clear_pointer (&data->metadata, g_ptr_array_unref);
  g_clear_pointer (&data->session, devbg_session_info_free);
  g_free (data->consent_why);
  g_clear_object (&data->instance);
  g_clear_error (&data->prepare_error);
  devbg_request_outcome_clear (&data->outcome);
  g_free (data);
}

static RequestData *
request_data_new (DevbgRuntime *runtime, const DevbgCaller *caller, const DevbgRequest *request)
{
  RequestData *data = g_new0 (RequestData, 1);

  data->runtime = runtime;
  g_ptr_array_add (runtime->requests, data);
  data->sender = g_strdup (caller->sender);
  data->app_id = g_strdup (caller->app_id);
  data->uid = caller->uid;
  data->pid = caller->pid;
  data->start_time = caller->start_time;
  data->task_id = g_strdup (request->task_id);
  data->name = g_strdup (request->name);
  data->entry_point = g_strdup (request->entry_point);
  data->executable = g_strdup (request->executable);
  data->device_id = g_strdup (request->device_id);
  data->arguments = g_strdup (request->arguments);
  data->trigger = request->trigger;
  data->expected_duration_s = request->expected_duration_s;
  data->entry_point_declared = request->entry_point_declared && request->executable != NULL;
  data->manifest = request->manifest ? devbg_manifest_ref (request->manifest) : NULL;
  data->metadata = request->metadata ? g_ptr_array_ref (request->metadata) : NULL;
  return data;
}

void
devbg_runtime_peer_vanished (DevbgRuntime *self, const char *name)
{
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  /* It listens no more; its requests still being decided start nothing
   * (start_instance() checks); its instances already made are canceled. */
  g_hash_table_remove (self->listeners, name);
  devbg_task_watch_remove (self->task_watch, name);
  devbg_peer_flow_forget (self->signal_flow, name);
  for (guint i = 0; i < self->requests->len; i++)
    {
      RequestData *data = g_ptr_array_index (self->requests, i);

      if (strcmp (data->sender, name) == 0)
        data->sender_gone = TRUE;
    }
  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (devbg_instance_get_owner (value), name) == 0 && !devbg_instance_get_detached (value))
      g_ptr_array_add (gone, g_object_ref (value));
  for (guint i = 0; i < gone->len; i++)
    devbg_instance_cancel (g_ptr_array_index (gone, i), DEVBG_CANCEL_TERMINATING,
                           "the app exited");
}

static void
caller_of_request (const RequestData *data, DevbgCaller *caller)
{
  *caller = (DevbgCaller) { .sender = data->sender, .app_id = data->app_id, .uid = data->uid,
                            .pid = data->pid, .start_time = data->start_time };
}

static void
deny (GTask *task, DevbgRequestReason reason, char *detail)
{
  RequestData *data = g_task_get_task_data (task);

  data->outcome.result = devbg_request_reason_get_result (reason);
  data->outcome.reason = devbg_request_reason_to_string (reason);
  data->outcome.detail = detail;
  /* A request that failed as it started had its instance: named too. */
  if (data->instance == NULL)
    {
      DevbgRuntime *self = g_task_get_source_object (task);
      g_autofree char *key = g_strdup_printf ("%u %s", (unsigned) data->uid, data->app_id);
      g_autofree char *device = devbg_utf8_excerpt (data->device_id, 128);
      g_autofree char *why = devbg_utf8_excerpt (detail, 512);
      g_autofree char *unlogged = NULL;
      guint left_out = 0;

      if (devbg_log_limit_allow (self->denials_logged, key, g_get_monotonic_time (), &left_out))
        {
          if (left_out > 0)
            unlogged = g_strdup_printf ("; %u refusals of this app before it were not logged "
                                        "(at most %d a minute are)", left_out,
                                        DENIALS_LOGGED_BURST);
          devbg_log_request (G_LOG_LEVEL_INFO, data->app_id, data->task_id, data->device_id,
                             data->uid, "request of %s (uid %u) for %s on %s denied (%s): %s%s",
                             data->app_id, (unsigned) data->uid, data->entry_point, device,
                             data->outcome.reason, why, unlogged ? unlogged : "");
        }
    }
  else
    devbg_log_instance (G_LOG_LEVEL_INFO, devbg_instance_get_record (data->instance),
                        "request of %s (uid %u) for %s on %s denied (%s): %s; instance %s "
                        "not started", data->app_id, (unsigned) data->uid, data->entry_point,
                        data->device_id, data->outcome.reason, detail,
                        devbg_instance_get_record (data->instance)->instance_id);
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

/* A request of the same owner that waits for the person's answer counts
 * as its task: an app that could queue prompt after prompt would fill its
 * user's session's prompt queue, and other apps' requests would then be
 * refused without the person being asked. */
static gboolean
owner_waits_for_consent (DevbgRuntime *self, const RequestData *data)
{
  for (guint i = 0; i < self->requests->len; i++)
    {
      const RequestData *other = g_ptr_array_index (self->requests, i);

      if (other != data && other->asking_consent && other->uid == data->uid &&
          g_strcmp0 (other->app_id, data->app_id) == 0)
        return TRUE;
    }
  return FALSE;
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

/* The device's metadata: its own (model ID first, then its most specific
 * hardware ID), or else that of another function of the same physical
 * device (its container): the metadata of a composite USB device names its
 * USB IDs, and covers its HID and serial functions too. */
static DevbgMetadata *
metadata_for_device (DevbgRuntime *self, GPtrArray *metadata, DevbgDevice *device)
{
  const char *container = devbg_device_get_container_id (device);
  DevbgMetadata *md = devbg_metadata_match (metadata, devbg_device_get_model_id (device),
                                            devbg_device_get_hardware_ids (device));
  g_autoptr(GPtrArray) all = NULL;

  if (md != NULL || *container == '\0')
    return md;
  all = devbg_devices_list (self->devices); /* sorted by ID: the same answer each time */
  for (guint i = 0; md == NULL && i < all->len; i++)
    {
      DevbgDevice *other = g_ptr_array_index (all, i);
      if (other != device && strcmp (devbg_device_get_container_id (other), container) == 0)
        md = devbg_metadata_match (metadata, devbg_device_get_model_id (other),
                                   devbg_device_get_hardware_ids (other));
    }
  return md;
}

/* The facts known now, without waiting for anyone; the asynchronous ones
 * (session, access, consent) as found so far. Returns the device, or
 * NULL when it is not attached. */
static DevbgDevice *
gather_facts (DevbgRuntime *self, RequestData *data, DevbgDecisionFacts *f, GError **error)
{
  DevbgDevice *device = devbg_devices_lookup (self->devices, data->device_id);
  DevbgOwner owner = { .uid = data->uid, .app_id = data->app_id };
  DevbgCaller caller;
  gint64 pending;

  caller_of_request (data, &caller);
  *f = (DevbgDecisionFacts) {
    .trigger = data->trigger,
    .entry_point_declared = data->entry_point_declared,
    .device_attached = device != NULL,
    .expected_duration_s = data->expected_duration_s,
    .device_accessible = data->accessible,
    .in_session = data->session != NULL && data->session->id != NULL,
    .session_active = data->session != NULL && data->session->active,
    .session_locked = data->session != NULL &&
                      devbg_session_is_locked (self->session, data->session->id),
    .app_task_running = running_instance_of (self, &caller) != NULL,
    .app_consent_waiting = owner_waits_for_consent (self, data),
    .device_busy = instance_on_device (self, data->device_id) != NULL,
    .power = devbg_power_get_facts (self->power),
    .consent = data->consent,
  };
  if (device != NULL)
    {
      const char *const *ids = devbg_device_get_hardware_ids (device);
      DevbgMetadata *md = data->metadata != NULL
        ? metadata_for_device (self, data->metadata, device) : NULL;

      f->protocol = devbg_device_get_protocol (device);
      f->device_declared = data->manifest != NULL &&
        devbg_manifest_declares_device (data->manifest, f->protocol, ids);
      f->has_metadata = md != NULL;
      /* A user's own Flatpak installation is the user's to fill with any
       * app ID: no metadata names such an app privileged, only
       * <AnyApplication/> covers it. */
      gboolean id_vouched = data->manifest == NULL || data->manifest->flatpak == NULL ||
                            !data->manifest->flatpak->user;

      f->privileged = md != NULL && (id_vouched ? devbg_metadata_is_privileged (md, data->app_id)
                                                : md->any_application);
      f->consent_stored = data->trigger == DEVBG_TRIGGER_USE &&
        devbg_consent_is_stored (self->consent, data->uid, data->app_id,
                                 devbg_device_get_consent_model (device));
    }
  /* Pending events are capped per owner, and none is ever dropped: an app
   * that does not acknowledge its completions gets no new task. */
  pending = devbg_store_count_events (self->store, &owner, error);
  if (pending < 0)
    return NULL;
  f->too_many_pending = pending >= self->config->max_pending_events;
  return device;
}

static void start_instance (GTask *task, DevbgDevice *device);
static void ask_consent (GTask *task, DevbgDevice *device);

/* Decides with every fact known now, and acts on the verdict. Takes
 * the reference to @task. */
static void
decide_and_act (GTask *task)
{
  DevbgRuntime *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  DevbgDecisionFacts facts;
  DevbgDevice *device = gather_facts (self, data, &facts, &error);
  DevbgDecision decision;

  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  decision = devbg_decide (self->config, &facts);
  switch (decision.kind)
    {
    case DEVBG_DECISION_DENY:
      {
        char *why = devbg_decision_explain (self->config, &facts, decision);
        DevbgCaller caller;
        DevbgInstance *running;

        if (data->consent_why != NULL && decision.reason == DEVBG_REASON_DENIED_BY_USER)
          {
            g_free (why);
            why = g_strdup (data->consent_why);
          }
        caller_of_request (data, &caller);
        if (decision.reason == DEVBG_REASON_ALREADY_RUNNING &&
            (running = running_instance_of (self, &caller)) != NULL)
          {
            char *with_id = g_strdup_printf ("%s (instance %s)", why,
                                             devbg_instance_get_record (running)->instance_id);
            g_free (why);
            why = with_id;
          }
        /* The rule that refused and its facts concern the app's own
         * request: its developer is told, as the log says it. */
        data->outcome.app_detail = g_strdup (why);
        deny (task, decision.reason, why);
        g_object_unref (task);
        return;
      }
    case DEVBG_DECISION_ASK_CONSENT:
      ask_consent (task, device);
      return;
    case DEVBG_DECISION_ALLOW:
      start_instance (task, device);
      return;
    }
}

static void
on_consent_answer (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gboolean allowed = devbg_consent_ask_finish (DEVBG_CONSENT (source), res, &data->consent_why,
                                               &error);

  data->asking_consent = FALSE;
  if (error != NULL)
    {
      devbg_log_request (G_LOG_LEVEL_WARNING, data->app_id, data->task_id, data->device_id,
                         data->uid, "cannot ask %s's user (uid %u) for consent: %s",
                         data->app_id, (unsigned) data->uid, error->message);
      data->consent = DEVBG_CONSENT_UNAVAILABLE;
    }
  else
    data->consent = allowed ? DEVBG_CONSENT_GIVEN : DEVBG_CONSENT_REFUSED;
  /* Everything may have changed while the person thought: decided again,
   * with the answer. */
  decide_and_act (g_steal_pointer (&task));
}

static void
ask_consent (GTask *task, DevbgDevice *device)
{
  DevbgRuntime *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  DevbgConsentQuestion q = {
    .uid = data->uid,
    .app_id = data->app_id,
    .task_id = data->task_id,
    .app_display_name = data->manifest != NULL && data->manifest->display_name != NULL
                        ? data->manifest->display_name : data->app_id,
    .sender = data->sender,
    .session_id = data->session != NULL ? data->session->id : NULL,
    .trigger = data->trigger,
    .device_id = data->device_id,
    .device_name = devbg_device_get_name (device),
    .model_id = devbg_device_get_consent_model (device),
    .expected_duration_s = data->expected_duration_s,
  };

  data->asking_consent = TRUE;
  /* Without the session at hand (RequireForeground=false), devbgd finds the
   * caller's session itself: an agent serves its own session only. */
  if (q.session_id == NULL)
    devbg_consent_ask_for_sender_async (self->consent, &q, NULL, on_consent_answer, task);
  else
    devbg_consent_ask_async (self->consent, &q, NULL, on_consent_answer, task);
}

static void
on_access_checked (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  RequestData *data = g_task_get_task_data (task);

  data->accessible = devbg_access_check_finish (DEVBG_ACCESS (source), res);
  decide_and_act (task);
}

static void
check_access (GTask *task)
{
  DevbgRuntime *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  DevbgDevice *device = devbg_devices_lookup (self->devices, data->device_id);
  DevbgAccessSubject subject = { .pid = data->pid, .start_time = data->start_time,
                                 .uid = data->uid };

  if (device == NULL)
    {
      decide_and_act (task); /* no-such-device, decided before access */
      return;
    }
  devbg_access_check_async (self->access, device, &subject, NULL, on_access_checked, task);
}

static void
on_session_found (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GTask *task = user_data;
  RequestData *data = g_task_get_task_data (task);

  data->session = devbg_session_lookup_finish (DEVBG_SESSION (source), res);
  check_access (task);
}

/* A spawn failure as the app may hear it: the failed step of its own
 * program (named in its manifest) and the errno's text; anything else
 * (cgroups, users, devbgd's own limits) stays in devbgd's log. */
static char *
spawn_failure_for_app (const GError *error)
{
  if (error->domain == DEVBG_SPAWN_CHILD_ERROR)
    return g_strdup (error->message);
  return g_strdup ("devbgd could not prepare the task's process; its log says why");
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
      deny (task, DEVBG_REASON_DEVICE_OPEN_FAILED,
            g_strdup_printf ("cannot open device %s: %s", r->device_id, error->message));
      return;
    }
  if (data->prepare_error != NULL)
    {
      close (fd);
      forget_instance (self, id);
      data->outcome.app_detail = spawn_failure_for_app (data->prepare_error);
      deny (task, DEVBG_REASON_SPAWN_FAILED,
            g_strdup_printf ("cannot start the task: %s", data->prepare_error->message));
      return;
    }
  /* Canceled while its device opened (unregistered, or its app left). */
  if (devbg_instance_get_state (instance) != DEVBG_INSTANCE_STARTING ||
      *devbg_instance_get_cancel_reason (instance) != '\0')
    {
      close (fd);
      forget_instance (self, id);
      deny (task, DEVBG_REASON_CANCELED,
            g_strdup ("canceled while its device was opened (unregistered, or the app left)"));
      return;
    }
  if (data->session != NULL && data->session->id != NULL)
    {
      g_hash_table_insert (self->instance_sessions, g_strdup (id), g_strdup (data->session->id));
      devbg_instance_set_screen_locked (instance,
                                        devbg_session_is_locked (self->session, data->session->id));
    }
  if (!devbg_instance_start (instance, fd, &error))
    {
      forget_instance (self, id);
      data->outcome.app_detail = spawn_failure_for_app (error);
      deny (task, DEVBG_REASON_SPAWN_FAILED,
            g_strdup_printf ("cannot start the task: %s", error->message));
      return;
    }
  /* Recorded as running before the app hears "allowed": a crash from now
   * on is found at the next start, and the app gets its completion. */
  if (!devbg_store_add_instance (self->store, r, &error))
    {
      devbg_log_instance (G_LOG_LEVEL_CRITICAL, r, "instance %s: %s", id, error->message);
      devbg_instance_terminate (instance, DEVBG_CANCEL_SYSTEM_POLICY, "devbgd cannot record it");
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (r->trigger == DEVBG_TRIGGER_SERVICING)
    inhibit_sleep (self, r);
  data->outcome.result = DEVBG_RESULT_ALLOWED;
  data->outcome.reason = devbg_request_reason_to_string (DEVBG_REASON_ALLOWED);
  data->outcome.instance_id = g_strdup (id);
  data->outcome.detail = g_strdup_printf ("started pid %d", (int) r->pid);
  devbg_log_instance (G_LOG_LEVEL_INFO, r, "instance %s of %s (%s on %s) started as pid %d", id,
                      r->app_id, r->entry_point, r->device_id, (int) r->pid);
  g_task_return_boolean (task, TRUE);
}

static void
start_instance (GTask *task, DevbgDevice *device)
{
  DevbgRuntime *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  g_autofree char *instance_id = g_uuid_string_random ();
  DevbgInstanceRecord record = { 0 };
  DevbgInstanceSpec spec = { 0 };
  struct passwd *pw;

  /* Its app left while it was decided: an owner's instances end with it. */
  if (data->sender_gone)
    {
      deny (task, DEVBG_REASON_CANCELED, g_strdup ("the app exited before its task started"));
      g_object_unref (task);
      return;
    }
  record.instance_id = instance_id;
  record.task_id = data->task_id;
  record.app_id = data->app_id;
  record.name = data->name;
  record.entry_point = data->entry_point;
  record.trigger = data->trigger;
  record.device_id = data->device_id;
  record.uid = data->uid;
  pw = getpwuid (data->uid);
  spec.config = self->config;
  spec.devices = self->devices;
  spec.executable = data->executable;
  spec.arguments = data->arguments;
  spec.expected_duration_ms = (guint64) data->expected_duration_s * 1000;
  spec.gid = pw != NULL ? pw->pw_gid : (gid_t) data->uid;
  spec.user_name = pw != NULL ? pw->pw_name : NULL;
  spec.owner = data->sender;
  spec.cgroup_parent = self->cgroup_parent != NULL ? self->cgroup_parent : "";
  spec.cpu_mhz = self->cpu_mhz;
  spec.log_fd = -1;
  spec.flatpak = data->manifest != NULL ? data->manifest->flatpak : NULL;
  spec.flatpaks = self->flatpaks;

  data->instance = devbg_instance_new (&record, &spec);
  /* In the table from now: a second request sees it, an unregister can
   * cancel it while the device opens. */
  g_hash_table_insert (self->instances, g_strdup (instance_id), g_object_ref (data->instance));
  g_signal_connect (data->instance, "progress", G_CALLBACK (on_instance_progress), self);
  g_signal_connect (data->instance, "finished", G_CALLBACK (on_instance_finished), self);
  devbg_devices_open_async (self->devices, device, NULL, on_device_opened, task);
  /* While the device opens (for some backends a D-Bus round trip): the
   * task's cgroup, user, channel and pipes; only the start is left for
   * when the device is open. */
  devbg_instance_prepare (data->instance, &data->prepare_error);
}

void
devbg_runtime_request_async (DevbgRuntime *self, const DevbgCaller *caller,
                             const DevbgRequest *request, GAsyncReadyCallback callback,
                             gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  RequestData *data = request_data_new (self, caller, request);
  g_autoptr(GError) error = NULL;
  DevbgDecisionFacts facts;
  DevbgDecision early;

  g_task_set_task_data (task, data, (GDestroyNotify) request_data_free);
  /* Nobody to ask (no foreground to look up, and the device's own
   * permissions let the caller in): one decision, with every fact. */
  if (!self->config->require_foreground)
    {
      DevbgDevice *device = devbg_devices_lookup (self->devices, data->device_id);

      if (device != NULL && devbg_access_user_may_open (device, data->uid))
        {
          data->accessible = TRUE;
          decide_and_act (task);
          return;
        }
    }
  /* A first decision with the facts at hand, taking the asynchronous
   * ones as passing: a refusal by a row before device access (the order
   * of devbg-decision.h, the enum's order) is final, and nobody (logind,
   * polkit) need be asked about a request that is refused anyway. */
  data->accessible = TRUE;
  data->session = g_new0 (DevbgSessionInfo, 1);
  data->session->active = TRUE;
  data->session->id = g_strdup ("");
  gather_facts (self, data, &facts, &error);
  g_clear_pointer (&data->session, devbg_session_info_free);
  data->accessible = FALSE;
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  early = devbg_decide (self->config, &facts);
  if (early.kind == DEVBG_DECISION_DENY && early.reason < DEVBG_REASON_DEVICE_NOT_ACCESSIBLE)
    {
      decide_and_act (task);
      return;
    }
  if (self->config->require_foreground)
    devbg_session_lookup_async (self->session, data->pid, NULL, on_session_found, task);
  else
    check_access (task);
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
  data->outcome.app_detail = NULL;
  return TRUE;
}

DevbgConsent *
devbg_runtime_get_consent (DevbgRuntime *self)
{
  return self->consent;
}

/* ---- the system's facts while tasks run ---- */

/* The session's lock moves its running tasks to the other CPU window. */
static void
on_lock_changed (DevbgSession *session, const char *session_id, gboolean locked,
                 gpointer user_data)
{
  DevbgRuntime *self = user_data;
  GHashTableIter iter;
  gpointer key, value;

  (void) session;
  g_hash_table_iter_init (&iter, self->instance_sessions);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      DevbgInstance *instance = g_hash_table_lookup (self->instances, key);
      if (instance != NULL && strcmp (value, session_id) == 0)
        devbg_instance_set_screen_locked (instance, locked);
    }
}

static void
cancel_where (DevbgRuntime *self, gboolean (*match) (DevbgRuntime *, DevbgInstance *, gconstpointer),
              gconstpointer what, DevbgCancelReason reason, const char *detail)
{
  g_autoptr(GPtrArray) hit = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (match (self, value, what))
      g_ptr_array_add (hit, g_object_ref (value));
  for (guint i = 0; i < hit->len; i++)
    devbg_instance_cancel (g_ptr_array_index (hit, i), reason, detail);
}

static gboolean
in_session (DevbgRuntime *self, DevbgInstance *instance, gconstpointer session_id)
{
  const char *id = g_hash_table_lookup (self->instance_sessions,
                                        devbg_instance_get_record (instance)->instance_id);
  return id != NULL && strcmp (id, session_id) == 0;
}

/* LoggingOff: the session the task was requested from ended. Detached
 * tasks too: they ran on that user's behalf, and the user has left. */
static void
on_session_removed (DevbgSession *session, const char *session_id, gpointer user_data)
{
  DevbgRuntime *self = user_data;
  g_autofree char *detail = g_strdup_printf ("the user's session %s ended", session_id);

  (void) session;
  cancel_where (self, in_session, session_id, DEVBG_CANCEL_LOGGING_OFF, detail);
}

static gboolean
is_use_task (DevbgRuntime *self, DevbgInstance *instance, gconstpointer unused)
{
  (void) self; (void) unused;
  return devbg_instance_get_record (instance)->trigger == DEVBG_TRIGGER_USE;
}

/* EnergySaver: a sync can wait; a firmware update half done cannot, so
 * servicing tasks go on. */
static void
on_energy_saver_changed (DevbgPower *power, gboolean saving, gpointer user_data)
{
  (void) power;
  if (saving)
    cancel_where (user_data, is_use_task, NULL, DEVBG_CANCEL_ENERGY_SAVER,
                  "the machine went to power saving");
}

gboolean
devbg_runtime_watch_events (DevbgRuntime *self, const DevbgCaller *caller, GError **error)
{
  if (!g_hash_table_contains (self->listeners, caller->sender))
    {
      DevbgInstanceRecord owner = { .uid = caller->uid, .app_id = (char *) caller->app_id };
      GHashTableIter iter;
      gpointer value;
      guint of_owner = 0;
      Listener *listener;

      g_hash_table_iter_init (&iter, self->listeners);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        of_owner += listens_to (value, &owner);
      if (of_owner >= DEVBG_MAX_EVENT_LISTENERS)
        {
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_LIMIT_EXCEEDED,
                       "app %s of uid %u already watches its events on %u connections, the "
                       "most there may be", caller->app_id, (unsigned) caller->uid, of_owner);
          return FALSE;
        }
      devbg_peer_flow_reset (self->signal_flow, caller->sender);
      listener = g_new0 (Listener, 1);

      listener->uid = caller->uid;
      listener->app_id = g_strdup (caller->app_id);
      /* Until it leaves: devbg_runtime_peer_vanished(). */
      g_hash_table_insert (self->listeners, g_strdup (caller->sender), listener);
    }
  return TRUE;
}

gboolean
devbg_runtime_acknowledge (DevbgRuntime *self, const DevbgCaller *caller,
                           const char *const *event_ids, GError **error)
{
  guint n = 0;

  for (const char *const *id = event_ids; *id != NULL; id++, n++)
    if (!g_uuid_string_is_valid (*id))
      {
        g_autofree char *quoted = devbg_utf8_excerpt (*id, 64);

        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                     "event ID '%s' is not a UUID", quoted);
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
        devbg_log_instance (G_LOG_LEVEL_WARNING, rec, "leftover instance %s: %s",
                            rec->instance_id, error->message);
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
  self->signal_flow = devbg_peer_flow_new (connection, object_path, interface, SIGNAL_WINDOW,
                                           SIGNALS_QUEUED_MAX, on_signal_flow_dropped, self);
  self->task_watch = devbg_task_watch_new (self->signal_flow);
  self->denials_logged = devbg_log_limit_new (DENIALS_LOGGED_BURST, DENIALS_LOGGED_INTERVAL_US,
                                              DENIALS_LOGGED_MAX_KEYS);
  self->cgroup_parent = *config->task_cgroup_parent != '\0' ? g_strdup (config->task_cgroup_parent)
                                                             : devbg_cgroup_default_parent ();
  g_info ("task cgroups under %s", self->cgroup_parent ? self->cgroup_parent
                                                        : "(none: process groups)");
  self->session = devbg_session_new (connection, SYSTEM_CALL_TIMEOUT_MS);
  self->power = devbg_power_new (connection, SYSTEM_CALL_TIMEOUT_MS);
  self->access = devbg_access_new (connection, SYSTEM_CALL_TIMEOUT_MS);
  self->consent = devbg_consent_new (config, store, connection);
  g_signal_connect (self->session, "lock-changed", G_CALLBACK (on_lock_changed), self);
  g_signal_connect (self->session, "session-removed", G_CALLBACK (on_session_removed), self);
  g_signal_connect (self->power, "energy-saver-changed", G_CALLBACK (on_energy_saver_changed), self);
  return self;
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
      devbg_log_instance (G_LOG_LEVEL_CRITICAL, c->r, "instance %s: its completion could not be "
                          "stored and is lost; the next start reports it as ended by the stop "
                          "of devbgd", c->r->instance_id);
      completion_free (c);
    }
  {
    GHashTableIter iter;
    gpointer fd;

    g_hash_table_iter_init (&iter, self->inhibitors);
    while (g_hash_table_iter_next (&iter, NULL, &fd))
      close (GPOINTER_TO_INT (fd));
    g_hash_table_remove_all (self->inhibitors);
  }
  if (self->session != NULL)
    g_signal_handlers_disconnect_by_data (self->session, self);
  if (self->power != NULL)
    g_signal_handlers_disconnect_by_data (self->power, self);
  g_clear_object (&self->session);
  g_clear_object (&self->power);
  g_clear_object (&self->access);
  g_clear_object (&self->consent);
  g_clear_pointer (&self->instances, g_hash_table_unref);
  g_clear_object (&self->store);
  g_clear_object (&self->devices);
  g_clear_object (&self->connection);
  g_clear_object (&self->consent);
  G_OBJECT_CLASS (devbg_runtime_parent_class)->dispose (object);
}

static void
devbg_runtime_finalize (GObject *object)
{
  DevbgRuntime *self = DEVBG_RUNTIME (object);

  g_ptr_array_unref (self->requests);
  g_hash_table_unref (self->listeners);
  g_clear_pointer (&self->task_watch, devbg_task_watch_free);
  g_clear_pointer (&self->signal_flow, devbg_peer_flow_free);
  g_clear_pointer (&self->denials_logged, devbg_log_limit_free);
  g_hash_table_unref (self->inhibitors);
  g_hash_table_unref (self->instance_sessions);
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
  self->requests = g_ptr_array_new ();
  self->listeners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) listener_free);
  self->inhibitors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->instance_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* ---- consent ---- */

void
devbg_runtime_set_consent (DevbgRuntime *self, DevbgConsent *consent)
{
  g_set_object (&self->consent, consent);
}

void
devbg_runtime_set_flatpak (DevbgRuntime *self, DevbgFlatpak *flatpaks)
{
  self->flatpaks = flatpaks;
}

/* Revoked consent: the owner's running use tasks on a device of @model_id
 * (of any model when NULL) are canceled. A servicing task was consented to
 * for that one run, and is left alone. */
guint
devbg_runtime_cancel_for_consent (DevbgRuntime *self, guint32 uid, const char *app_id,
                                  const char *model_id)
{
  g_autoptr(GPtrArray) hit = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const DevbgInstanceRecord *r = devbg_instance_get_record (value);
      DevbgDevice *device = devbg_devices_lookup (self->devices, r->device_id);
      const char *model = device != NULL ? devbg_device_get_consent_model (device) : NULL;

      if (r->trigger == DEVBG_TRIGGER_USE && r->uid == uid && strcmp (r->app_id, app_id) == 0 &&
          (model_id == NULL || g_strcmp0 (model, model_id) == 0))
        g_ptr_array_add (hit, g_object_ref (value));
    }
  for (guint i = 0; i < hit->len; i++)
    devbg_instance_cancel (g_ptr_array_index (hit, i), DEVBG_CANCEL_SYSTEM_POLICY,
                           "the user revoked the app's consent for this device");
  return hit->len;
}

guint
devbg_runtime_cancel_flatpak (DevbgRuntime *self, const DevbgFlatpakOrigin *before,
                              DevbgCancelReason reason)
{
  g_autoptr(GPtrArray) hit = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->instances);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      const DevbgFlatpakOrigin *o = devbg_instance_get_flatpak (value);

      if (o != NULL && o->user == before->user && o->owner == before->owner &&
          strcmp (o->installation, before->installation) == 0 &&
          strcmp (o->app_id, before->app_id) == 0 && strcmp (o->commit, before->commit) == 0)
        g_ptr_array_add (hit, g_object_ref (value));
    }
  for (guint i = 0; i < hit->len; i++)
    devbg_instance_cancel (g_ptr_array_index (hit, i), reason,
                           reason == DEVBG_CANCEL_UNINSTALL
                           ? "the app was uninstalled"
                           : "the app was updated; its tasks run the new version from now on");
  return hit->len;
}

/* ---- tools watching tasks ---- */

GPtrArray *
devbg_runtime_watch_tasks (DevbgRuntime *self, const DevbgCaller *caller, GError **error)
{
  /* Watching first: no change after the list is missed. */
  if (!devbg_task_watch_add (self->task_watch, caller, error))
    return NULL;
  return devbg_runtime_list (self, caller);
}
