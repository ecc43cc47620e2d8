/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-client.h"
#include "devbg-client-private.h"
#include "devbg-records.h"

#include <string.h>

#include "devbg-device-info-private.h"
#include "devbg-device-page.h"
#include "devbg-enum-types.h"
#include "devbg-task-info-private.h"
#include "devbg-error.h"
#include "devbg-list-channel.h"
#include "devbg-names.h"
#include "devbg-utf8.h"

#define BUS_NAME    DEVBG_DBUS_SERVICE
#define OBJECT_PATH DEVBG_DBUS_PATH
#define IFACE       DEVBG_DBUS_MANAGER_INTERFACE

/* The limits devbgd applies (data/org.devbg.Devbg1.xml), checked here too
 * so that a bad argument is a clear local error. */
#define MAX_NAME        DEVBG_MAX_NAME
#define MAX_ARGUMENTS   DEVBG_MAX_ARGUMENTS
#define MAX_DEVICE_ID   DEVBG_MAX_DEVICE_ID
#define MAX_ID          DEVBG_MAX_ID
#define MAX_ENTRY_POINT 256

/* ---- argument checks: a bad string is a GError, never a GVariant critical */

gboolean
devbg_check_string_arg (const char *what, const char *value, gboolean may_be_empty, gsize max,
                        GError **error)
{
  gsize len;

  if (value == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT, "%s is missing", what);
      return FALSE;
    }
  len = strlen (value);
  if (!g_utf8_validate_len (value, len, NULL))
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT, "%s is not valid UTF-8", what);
      return FALSE;
    }
  if (len == 0 && !may_be_empty)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT, "%s is empty", what);
      return FALSE;
    }
  if (len > max)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "%s is %" G_GSIZE_FORMAT " bytes long, more than %" G_GSIZE_FORMAT,
                   what, len, max);
      return FALSE;
    }
  return TRUE;
}

/* ---- DevbgCompletion ---- */

struct _DevbgCompletion {
  GObject  parent;
  char    *event_id;
  char    *task_id;
  char    *instance_id;
  gboolean success;
  char    *error_message;
  char    *cancel_reason;
  gint64   finished_us;
};

G_DEFINE_TYPE (DevbgCompletion, devbg_completion, G_TYPE_OBJECT)

static void
devbg_completion_finalize (GObject *object)
{
  DevbgCompletion *c = DEVBG_COMPLETION (object);

  g_free (c->event_id);
  g_free (c->task_id);
  g_free (c->instance_id);
  g_free (c->error_message);
  g_free (c->cancel_reason);
  G_OBJECT_CLASS (devbg_completion_parent_class)->finalize (object);
}

enum {
  COMPLETION_PROP_0, COMPLETION_PROP_EVENT_ID, COMPLETION_PROP_TASK_ID,
  COMPLETION_PROP_INSTANCE_ID, COMPLETION_PROP_SUCCESS, COMPLETION_PROP_ERROR_MESSAGE,
  COMPLETION_PROP_CANCEL_REASON, COMPLETION_PROP_FINISHED_US, N_COMPLETION_PROPS
};

static void
devbg_completion_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  DevbgCompletion *c = DEVBG_COMPLETION (object);

  switch (id)
    {
    case COMPLETION_PROP_EVENT_ID: g_value_set_string (value, c->event_id); break;
    case COMPLETION_PROP_TASK_ID: g_value_set_string (value, c->task_id); break;
    case COMPLETION_PROP_INSTANCE_ID: g_value_set_string (value, c->instance_id); break;
    case COMPLETION_PROP_SUCCESS: g_value_set_boolean (value, c->success); break;
    case COMPLETION_PROP_ERROR_MESSAGE: g_value_set_string (value, c->error_message); break;
    case COMPLETION_PROP_CANCEL_REASON: g_value_set_string (value, c->cancel_reason); break;
    case COMPLETION_PROP_FINISHED_US: g_value_set_int64 (value, c->finished_us); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec); break;
    }
}

static GParamSpec *
read_only_string (const char *name, const char *blurb)
{
  return g_param_spec_string (name, NULL, blurb, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
devbg_completion_class_init (DevbgCompletionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamSpec *props[N_COMPLETION_PROPS] = { NULL };

  object_class->finalize = devbg_completion_finalize;
  object_class->get_property = devbg_completion_get_property;
  /**
   * DevbgCompletion:event-id:
   *
   * The ID of this event (what the client acknowledges to devbgd).
   *
   * Since: 0.1
   */
  props[COMPLETION_PROP_EVENT_ID] = read_only_string ("event-id", "The event's ID");
  /**
   * DevbgCompletion:task-id:
   *
   * The task ID of the registration whose instance ended.
   *
   * Since: 0.1
   */
  props[COMPLETION_PROP_TASK_ID] = read_only_string ("task-id", "The registration's task ID");
  /**
   * DevbgCompletion:instance-id:
   *
   * The ID of the instance that ended.
   *
   * Since: 0.1
   */
  props[COMPLETION_PROP_INSTANCE_ID] = read_only_string ("instance-id", "The instance's ID");
  /**
   * DevbgCompletion:success:
   *
   * Whether the task succeeded.
   *
   * Since: 0.1
   */
  props[COMPLETION_PROP_SUCCESS] =
    g_param_spec_boolean ("success", NULL, "Whether it succeeded", FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DevbgCompletion:error-message:
   *
   * The task's error message; "" on success.
   *
   * Since: 0.1
   */
  props[COMPLETION_PROP_ERROR_MESSAGE] = read_only_string ("error-message", "The error message");
  /**
   * DevbgCompletion:cancel-reason:
   *
   * devbgd's cancellation reason word, "" when the instance was not
   * canceled.
   *
   * Since: 0.1
   */
  props[COMPLETION_PROP_CANCEL_REASON] = read_only_string ("cancel-reason", "Why it was canceled");
  /**
   * DevbgCompletion:finished-us:
   *
   * When the instance ended, in microseconds since the Unix epoch.
   *
   * Since: 0.1
   */
  props[COMPLETION_PROP_FINISHED_US] =
    g_param_spec_int64 ("finished-us", NULL, "When it ended", G_MININT64, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_COMPLETION_PROPS, props);
}

static void devbg_completion_init (DevbgCompletion *c) { (void) c; }

static DevbgCompletion *
completion_new_from_entry (const DevbgEventEntry *e)
{
  DevbgCompletion *c = g_object_new (DEVBG_TYPE_COMPLETION, NULL);

  c->event_id = g_strdup (e->event_id);
  c->task_id = g_strdup (e->task_id);
  c->instance_id = g_strdup (e->instance_id);
  c->success = e->success;
  c->error_message = g_strdup (e->error);
  c->cancel_reason = g_strdup (e->cancel_reason);
  c->finished_us = e->finished_us;
  return c;
}

/* From one (sssbssx) tuple: the Completed signal's arguments. */
static DevbgCompletion *
completion_new_from_tuple (GVariant *tuple)
{
  DevbgEventEntry e;

  g_variant_get (tuple, "(&s&s&sb&s&sx)", &e.event_id, &e.task_id, &e.instance_id, &e.success,
                 &e.error, &e.cancel_reason, &e.finished_us);
  return completion_new_from_entry (&e);
}

/**
 * devbg_completion_get_event_id:
 * @completion: a #DevbgCompletion
 *
 * Returns: the ID of this event (what the client acknowledges to devbgd)
 *
 * Since: 0.1
 */
const char *devbg_completion_get_event_id (DevbgCompletion *c) { return c->event_id; }
/**
 * devbg_completion_get_task_id:
 * @completion: a #DevbgCompletion
 *
 * Returns: the task ID of the registration whose instance ended
 *
 * Since: 0.1
 */
const char *devbg_completion_get_task_id (DevbgCompletion *c) { return c->task_id; }
/**
 * devbg_completion_get_instance_id:
 * @completion: a #DevbgCompletion
 *
 * Returns: the ID of the instance that ended
 *
 * Since: 0.1
 */
const char *devbg_completion_get_instance_id (DevbgCompletion *c) { return c->instance_id; }
/**
 * devbg_completion_get_success:
 * @completion: a #DevbgCompletion
 *
 * Returns: %TRUE if the task succeeded
 *
 * Since: 0.1
 */
gboolean devbg_completion_get_success (DevbgCompletion *c) { return c->success; }
/**
 * devbg_completion_get_error_message:
 * @completion: a #DevbgCompletion
 *
 * Returns: the task's error message; "" on success
 *
 * Since: 0.1
 */
const char *devbg_completion_get_error_message (DevbgCompletion *c) { return c->error_message; }
/**
 * devbg_completion_get_cancel_reason:
 * @completion: a #DevbgCompletion
 *
 * Returns: devbgd's cancellation reason word ("abort", "terminating",
 *   ...; see #DevbgCancelReason), "" when the instance was not canceled
 *
 * Since: 0.1
 */
const char *devbg_completion_get_cancel_reason (DevbgCompletion *c) { return c->cancel_reason; }
/**
 * devbg_completion_get_finished_us:
 * @completion: a #DevbgCompletion
 *
 * Returns: when the instance ended, in microseconds since the Unix epoch
 *
 * Since: 0.1
 */
gint64 devbg_completion_get_finished_us (DevbgCompletion *c) { return c->finished_us; }

/**
 * devbg_completion_was_canceled:
 * @completion: a #DevbgCompletion
 * @reason: (out) (optional): where the reason goes; a reason newer than
 *   this library is given as %DEVBG_CANCEL_SYSTEM_POLICY
 *
 * Returns: %TRUE if the instance was canceled
 *
 * Since: 0.1
 */
gboolean
devbg_completion_was_canceled (DevbgCompletion *c, DevbgCancelReason *reason)
{
  if (c->cancel_reason[0] == '\0')
    return FALSE;
  if (reason != NULL && !devbg_cancel_reason_from_string (c->cancel_reason, reason))
    *reason = DEVBG_CANCEL_SYSTEM_POLICY; /* a reason newer than this library */
  return TRUE;
}

/**
 * devbg_completion_check_result:
 * @completion: a #DevbgCompletion
 * @error: return location for a #GError
 *
 * Like Windows' CheckResult().
 *
 * Returns: %TRUE if the task succeeded; otherwise %FALSE with
 *   %DEVBG_ERROR_FAILED carrying the task's error message (saying so if it
 *   was canceled, and why)
 *
 * Since: 0.1
 */
gboolean
devbg_completion_check_result (DevbgCompletion *c, GError **error)
{
  const char *message = c->error_message[0] != '\0' ? c->error_message : "The task failed";
  g_autofree char *said = NULL;

  if (c->success)
    return TRUE;
  if (c->cancel_reason[0] != '\0')
    {
      /* devbgd's message for a canceled instance already starts with
       * "canceled (<reason>)": it is not said twice. */
      said = g_strdup_printf ("canceled (%s)", c->cancel_reason);
      if (g_str_has_prefix (message, said))
        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "The task was %s", message);
      else
        g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "The task was %s: %s", said, message);
    }
  else
    g_set_error_literal (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, message);
  return FALSE;
}

/* ---- DevbgClient ---- */

struct _DevbgClient {
  GObject          parent;
  GDBusConnection *connection;
  GMainContext    *context;        /* where signals are received and emitted */
  gboolean         peer_to_peer;   /* no bus: the peer is devbgd */
  char            *service_owner;  /* devbgd's unique name; NULL while absent */
  guint            name_watch;
  guint            progress_sub;
  guint            completed_sub;
  guint            devices_sub;    /* DeviceAdded, DeviceRemoved, DeviceChanged */
  guint            tasks_sub;      /* TaskChanged, TaskEnded */
  gboolean         watching_tasks; /* WatchTasks again when devbgd restarts */
  GCancellable    *cancellable;    /* our own calls in flight, cut at dispose */
  DevbgListChannel *lists;         /* History and ListPermissions go there */

  /* task ID -> live DevbgRegistration, not owned: a registration removes
   * itself when it goes (it holds a reference to the client, so the client
   * outlives every entry). */
  GHashTable      *registrations;
  /* task ID -> GPtrArray of DevbgCompletion not yet delivered */
  GHashTable      *queued;
  /* IDs of the completion events queued or delivered, so that one that
   * arrives twice (signal and pending list, or WatchEvents again after a
   * devbgd restart before our acknowledgement got there) is delivered
   * once. One short string per completion over the client's life. */
  GHashTable      *seen_events;
  /* task ID -> name of the registrations this client removed: their
   * undelivered completions are settled rather than queued forever. */
  GHashTable      *unregistered;
  guint            flush_source;
  gboolean         acks_unflushed; /* AcknowledgeEvents sent, maybe not written */
};

G_DEFINE_TYPE (DevbgClient, devbg_client, G_TYPE_OBJECT)

enum { SIGNAL_PROGRESS, SIGNAL_COMPLETED, N_REG_SIGNALS };
static guint registration_signals[N_REG_SIGNALS];

enum { SIGNAL_DEVICE_ADDED, SIGNAL_DEVICE_REMOVED, SIGNAL_DEVICE_CHANGED, SIGNAL_TASK_CHANGED,
       SIGNAL_TASK_ENDED, N_CLIENT_SIGNALS };
static guint client_signals[N_CLIENT_SIGNALS];

static void client_schedule_flush (DevbgClient *client);
static void registration_mark_unregistered (DevbgRegistration *reg);
static void client_rewatch_tasks (DevbgClient *client);

static void
devbg_client_dispose (GObject *object)
{
  DevbgClient *client = DEVBG_CLIENT (object);

  g_cancellable_cancel (client->cancellable);
  if (client->name_watch != 0)
    g_bus_unwatch_name (client->name_watch);
  client->name_watch = 0;
  if (client->progress_sub != 0)
    g_dbus_connection_signal_unsubscribe (client->connection, client->progress_sub);
  if (client->completed_sub != 0)
    g_dbus_connection_signal_unsubscribe (client->connection, client->completed_sub);
  if (client->devices_sub != 0)
    g_dbus_connection_signal_unsubscribe (client->connection, client->devices_sub);
  if (client->tasks_sub != 0)
    g_dbus_connection_signal_unsubscribe (client->connection, client->tasks_sub);
  client->progress_sub = client->completed_sub = client->devices_sub = client->tasks_sub = 0;
  g_clear_handle_id (&client->flush_source, g_source_remove);
  /* An app often quits right after its "completed" handler ran: the
   * acknowledgement is written out first, or devbgd would deliver the
   * event again at the next start. Local and short. */
  if (client->acks_unflushed && client->connection != NULL)
    g_dbus_connection_flush_sync (client->connection, NULL, NULL);
  client->acks_unflushed = FALSE;
  if (client->lists != NULL)
    devbg_list_channel_close (client->lists);
  g_clear_pointer (&client->lists, devbg_list_channel_unref);
  g_clear_object (&client->connection);
  G_OBJECT_CLASS (devbg_client_parent_class)->dispose (object);
}

static void
devbg_client_finalize (GObject *object)
{
  DevbgClient *client = DEVBG_CLIENT (object);

  g_clear_object (&client->cancellable);
  g_clear_pointer (&client->context, g_main_context_unref);
  g_free (client->service_owner);
  g_hash_table_unref (client->registrations);
  g_hash_table_unref (client->queued);
  g_hash_table_unref (client->seen_events);
  g_hash_table_unref (client->unregistered);
  G_OBJECT_CLASS (devbg_client_parent_class)->finalize (object);
}

static void
devbg_client_class_init (DevbgClientClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_client_dispose;
  G_OBJECT_CLASS (klass)->finalize = devbg_client_finalize;

  /**
   * DevbgClient::device-added:
   * @client: the client
   * @device: the device that devbgd now knows
   *
   * A device was attached (or a backend found it). Emitted from the
   * client's main context, only for a device the caller may see (as
   * devbg_client_list_devices_async() lists them: for an app, the devices
   * its manifest declares), once devbgd has confirmed it.
   *
   * Since: 0.1
   */
  client_signals[SIGNAL_DEVICE_ADDED] =
    g_signal_new ("device-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_DEVICE_INFO);
  /**
   * DevbgClient::device-removed:
   * @client: the client
   * @device_id: the ID of the device that went away
   *
   * A device was removed. Emitted from the client's main context, for
   * every device, including ones an app was never shown: ignore an ID you
   * do not know.
   *
   * Since: 0.1
   */
  client_signals[SIGNAL_DEVICE_REMOVED] =
    g_signal_new ("device-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * DevbgClient::device-changed:
   * @client: the client
   * @device: the device, as it is now
   *
   * A device's properties changed (its name, its firmware version after an
   * update). Emitted from the client's main context, only for a device the
   * caller may see, as #DevbgClient::device-added.
   *
   * Since: 0.1
   */
  client_signals[SIGNAL_DEVICE_CHANGED] =
    g_signal_new ("device-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_DEVICE_INFO);
  /**
   * DevbgClient::task-changed:
   * @client: the client
   * @task: the instance, as it is now
   *
   * After devbg_client_watch_tasks_async(): an instance the caller may see
   * started, reported progress, or began canceling. Emitted from the
   * client's main context.
   *
   * Since: 0.1
   */
  client_signals[SIGNAL_TASK_CHANGED] =
    g_signal_new ("task-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_TASK_INFO);
  /**
   * DevbgClient::task-ended:
   * @client: the client
   * @task: the instance, with its outcome
   *
   * After devbg_client_watch_tasks_async(): an instance the caller may see
   * ended. Emitted from the client's main context.
   *
   * Since: 0.1
   */
  client_signals[SIGNAL_TASK_ENDED] =
    g_signal_new ("task-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_TASK_INFO);
  /* Registers the org.devbg.Devbg1.Error.* names, so that remote errors
   * arrive as DEVBG_ERROR codes. */
  (void) DEVBG_ERROR;
}

static void
devbg_client_init (DevbgClient *client)
{
  client->cancellable = g_cancellable_new ();
  client->context = g_main_context_ref_thread_default ();
  client->registrations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  client->queued = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) g_ptr_array_unref);
  client->seen_events = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  client->unregistered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * devbg_client_get_connection:
 * @client: a #DevbgClient
 *
 * Returns: (transfer none): the connection the client talks to devbgd on
 *
 * Since: 0.1
 */
GDBusConnection *
devbg_client_get_connection (DevbgClient *client)
{
  return client->connection;
}

DevbgListChannel *
devbg_client_get_list_channel (DevbgClient *client)
{
  return client->lists;
}

/* A request may wait for the person to answer a consent prompt, longer
 * than GDBus's default 25 s; devbgd bounds that wait itself (ConsentTimeout,
 * and at most 16 prompts queued per session). */
#define REQUEST_TIMEOUT_MS G_MAXINT

static GVariant *
call_sync (DevbgClient *client, const char *method, GVariant *params,
           const GVariantType *reply_type, GCancellable *cancellable, GError **error)
{
  GVariant *reply = g_dbus_connection_call_sync (client->connection,
                                                 client->peer_to_peer ? NULL : BUS_NAME,
                                                 OBJECT_PATH, IFACE, method, params, reply_type,
                                                 G_DBUS_CALL_FLAGS_NONE, -1, cancellable,
                                                 error);
  if (reply == NULL && error != NULL && *error != NULL)
    g_dbus_error_strip_remote_error (*error);
  return reply;
}

/* ---- events in */

/* Queues @c for its task (or drops it as a duplicate) and has the queue
 * flushed from an idle callback. Always through the queue, so the signal
 * and the pending-list paths deliver the same way. */
static void
client_take_completion (DevbgClient *client, DevbgCompletion *c)
{
  g_autoptr(DevbgCompletion) owned = c;
  GPtrArray *queue;

  if (!g_hash_table_add (client->seen_events, g_strdup (c->event_id)))
    return;
  queue = g_hash_table_lookup (client->queued, c->task_id);
  if (queue == NULL)
    {
      queue = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_insert (client->queued, g_strdup (c->task_id), queue);
    }
  g_ptr_array_add (queue, g_steal_pointer (&owned));
  client_schedule_flush (client);
}

static gboolean
from_devbgd (DevbgClient *client, const char *sender)
{
  /* GLib before 2.80.1 hands a subscription on a well-known sender name
   * unicast signals from anyone, so the sender is checked here against
   * devbgd's unique name. */
  return client->peer_to_peer ||
         (client->service_owner != NULL && g_strcmp0 (sender, client->service_owner) == 0);
}

static void
on_progress (GDBusConnection *connection, const char *sender, const char *path,
             const char *iface, const char *signal, GVariant *params, gpointer data)
{
  DevbgClient *client = data;
  const char *task_id, *instance_id;
  guint32 progress;
  DevbgRegistration *reg;

  if (!from_devbgd (client, sender) ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE (DEVBG_PROGRESS_TUPLE_TYPE)))
    return;
  g_variant_get (params, "(&s&su)", &task_id, &instance_id, &progress);
  reg = g_hash_table_lookup (client->registrations, task_id);
  if (reg != NULL)
    {
      g_autoptr(DevbgRegistration) hold = g_object_ref (reg);
      g_signal_emit (hold, registration_signals[SIGNAL_PROGRESS], 0, instance_id, (guint) progress);
    }
}

static void
on_completed (GDBusConnection *connection, const char *sender, const char *path,
              const char *iface, const char *signal, GVariant *params, gpointer data)
{
  DevbgClient *client = data;

  if (!from_devbgd (client, sender) ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE (DEVBG_EVENT_TUPLE_TYPE)))
    return;
  client_take_completion (client, completion_new_from_tuple (params));
}

/* One packed page of WatchEvents or ListEvents (DEVBG_EVENT_FIELDS a
 * record) decoded, oldest first, or NULL with @error when the page is
 * malformed: devbgd's reply is checked like any input, and a page is
 * taken whole or not at all. The entries point into @packed. */
static GArray *
events_from_page (GVariant *packed, GError **error)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GArray) events = NULL;

  fields = devbg_records_parse_variant (packed, DEVBG_EVENT_FIELDS, NULL, error);
  if (fields == NULL)
    return NULL;
  events = g_array_sized_new (FALSE, FALSE, sizeof (DevbgEventEntry),
                              fields->len / DEVBG_EVENT_FIELDS);
  for (guint i = 0; i < fields->len; i += DEVBG_EVENT_FIELDS)
    {
      DevbgEventEntry e;

      if (!devbg_records_decode_event ((const char *const *) &fields->pdata[i],
                                       i / DEVBG_EVENT_FIELDS, &e, error))
        return NULL;
      g_array_append_val (events, e);
    }
  return g_steal_pointer (&events);
}

static void
watch_events_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(DevbgClient) client = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autoptr(GVariant) packed = NULL;
  g_autoptr(GArray) events = NULL;
  const char *continuation;

  if (reply == NULL)
    {
      /* Not fatal: an app that is no devbg app, or an older devbgd, just
       * gets no events. One with too many clients watching is told: its
       * completions would seem lost. */
      if (g_error_matches (error, DEVBG_ERROR, DEVBG_ERROR_LIMIT_EXCEEDED))
        g_warning ("devbg: this client gets no completion events: %s", error->message);
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("devbg: WatchEvents failed: %s", error->message);
      return;
    }
  packed = g_variant_get_child_value (reply, 0);
  events = events_from_page (packed, &error);
  if (events == NULL)
    {
      /* Neither this page's events nor the rest: devbgd keeps them until
       * acknowledged, and sends them again at the next WatchEvents. */
      g_warning ("devbg: refused a page of pending events from devbgd: %s", error->message);
      return;
    }
  /* devbgd pages the pending events: the next page is asked for before
   * this one's are handed out, so that devbgd sends it meanwhile. Its
   * answer is handled after this one's: in order. */
  g_variant_get_child (reply, 1, "&s", &continuation);
  if (*continuation != '\0')
    g_dbus_connection_call (client->connection, client->peer_to_peer ? NULL : BUS_NAME,
                            OBJECT_PATH, IFACE, "ListEvents", g_variant_new ("(s)", continuation),
                            G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE, -1,
                            client->cancellable, watch_events_done, g_object_ref (client));
  for (guint i = 0; i < events->len; i++)
    client_take_completion (client,
                            completion_new_from_entry (&g_array_index (events, DevbgEventEntry, i)));
}

static void
client_watch_events (DevbgClient *client)
{
  g_dbus_connection_call (client->connection, client->peer_to_peer ? NULL : BUS_NAME,
                          OBJECT_PATH, IFACE, "WatchEvents", NULL, G_VARIANT_TYPE ("(ays)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, client->cancellable, watch_events_done,
                          g_object_ref (client));
}

/* devbgd appeared (at start, or after a restart: its watch list of
 * connections is in memory, so it is asked again). */
static void
on_service_appeared (GDBusConnection *connection, const char *name, const char *owner,
                     gpointer data)
{
  DevbgClient *client = data;

  if (g_strcmp0 (client->service_owner, owner) == 0)
    return;
  g_free (client->service_owner);
  client->service_owner = g_strdup (owner);
  client_watch_events (client);
  if (client->watching_tasks)
    client_rewatch_tasks (client);
}

static void
on_service_vanished (GDBusConnection *connection, const char *name, gpointer data)
{
  DevbgClient *client = data;

  g_clear_pointer (&client->service_owner, g_free);
}

typedef struct {
  DevbgClient *client;
  guint        signal_id; /* SIGNAL_DEVICE_ADDED or SIGNAL_DEVICE_CHANGED */
  char        *id;
} DeviceSeen;

/* devbgd's answer to GetDevice for a device a signal named: an app sees
 * only the devices its manifest declares (devbgd answers NoSuchDevice for
 * the others, and for one gone meanwhile), as in ListDevices. */
static void
on_device_checked (GObject *source, GAsyncResult *res, gpointer data)
{
  DeviceSeen *seen = data;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             NULL);

  if (reply != NULL)
    {
      g_autoptr(GVariant) properties = g_variant_get_child_value (reply, 0);
      g_autoptr(GError) error = NULL;
      g_autoptr(DevbgDeviceInfo) info = devbg_device_info_new (seen->id, properties, &error);

      if (info != NULL)
        g_signal_emit (seen->client, client_signals[seen->signal_id], 0, info);
      else
        {
          g_autofree char *quoted = devbg_utf8_excerpt (seen->id, 64);

          g_warning ("GetDevice '%s': %s", quoted, error->message);
        }
    }
  g_object_unref (seen->client);
  g_free (seen->id);
  g_free (seen);
}

static void
on_device_signal (GDBusConnection *connection, const char *sender, const char *path,
                  const char *iface, const char *signal, GVariant *params, gpointer data)
{
  DevbgClient *client = data;
  const char *id;
  DeviceSeen *seen;

  if (!from_devbgd (client, sender))
    return;
  if (g_str_equal (signal, "DeviceRemoved") &&
      g_variant_is_of_type (params, G_VARIANT_TYPE ("(s)")))
    {
      g_variant_get (params, "(&s)", &id);
      g_signal_emit (client, client_signals[SIGNAL_DEVICE_REMOVED], 0, id);
      return;
    }
  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv})")) ||
      !(g_str_equal (signal, "DeviceAdded") || g_str_equal (signal, "DeviceChanged")))
    return;
  /* The signal goes to every client; whether this one may see the device
   * is devbgd's to say. */
  g_variant_get (params, "(&s@a{sv})", &id, NULL);
  seen = g_new0 (DeviceSeen, 1);
  seen->client = g_object_ref (client);
  seen->signal_id = g_str_equal (signal, "DeviceAdded") ? SIGNAL_DEVICE_ADDED
                                                        : SIGNAL_DEVICE_CHANGED;
  seen->id = g_strdup (id);
  g_dbus_connection_call (client->connection, client->peer_to_peer ? NULL : BUS_NAME,
                          OBJECT_PATH, DEVBG_DBUS_DEVICES_INTERFACE, "GetDevice",
                          g_variant_new ("(s)", id), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_device_checked, seen);
}

static void
on_task_signal (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *signal, GVariant *params, gpointer data)
{
  DevbgClient *client = data;
  g_autoptr(GVariant) entry = NULL;
  g_autoptr(DevbgTaskInfo) info = NULL;

  if (!from_devbgd (client, sender))
    return;
  if (g_str_equal (signal, "TaskChanged") &&
      g_variant_is_of_type (params, G_VARIANT_TYPE ("(a{sv})")))
    {
      entry = g_variant_get_child_value (params, 0);
      info = devbg_task_info_new (entry);
      g_signal_emit (client, client_signals[SIGNAL_TASK_CHANGED], 0, info);
    }
  else if (g_str_equal (signal, "TaskEnded") &&
           g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv})")))
    {
      entry = g_variant_get_child_value (params, 1);
      info = devbg_task_info_new (entry);
      g_signal_emit (client, client_signals[SIGNAL_TASK_ENDED], 0, info);
    }
}


static void
client_start_watching (DevbgClient *client)
{
  const char *sender = client->peer_to_peer ? NULL : BUS_NAME;

  client->progress_sub =
    g_dbus_connection_signal_subscribe (client->connection, sender, IFACE, "Progress",
                                        OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_progress, client, NULL);
  client->completed_sub =
    g_dbus_connection_signal_subscribe (client->connection, sender, IFACE, "Completed",
                                        OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_completed, client, NULL);
  client->devices_sub =
    g_dbus_connection_signal_subscribe (client->connection, sender, DEVBG_DBUS_DEVICES_INTERFACE,
                                        NULL, OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        on_device_signal, client, NULL);
  client->tasks_sub =
    g_dbus_connection_signal_subscribe (client->connection, sender, IFACE, NULL, OBJECT_PATH,
                                        NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_task_signal, client,
                                        NULL);
  /* Subscribed first, so no signal sent after devbgd's WatchEvents reply
   * can be missed. */
  if (client->peer_to_peer)
    client_watch_events (client);
  else
    client->name_watch = g_bus_watch_name_on_connection (client->connection, BUS_NAME,
                                                         G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                         on_service_appeared,
                                                         on_service_vanished, client, NULL);
}

/**
 * devbg_client_new_for_connection:
 * @connection: a bus connection, or a peer-to-peer connection to devbgd
 *
 * Makes a client of devbgd on @connection, for example a private bus in
 * tests. A connection with no unique name is taken as peer-to-peer: devbgd
 * is the peer. The client belongs to the thread-default main context
 * current when this is called.
 *
 * Returns: (transfer full): a new client
 *
 * Since: 0.1
 */
DevbgClient *
devbg_client_new_for_connection (GDBusConnection *connection)
{
  DevbgClient *client = g_object_new (DEVBG_TYPE_CLIENT, NULL);

  client->connection = g_object_ref (connection);
  /* A connection with no unique name is peer-to-peer (tests, or a
   * private socket to devbgd): there is no bus name to address. */
  client->peer_to_peer = g_dbus_connection_get_unique_name (connection) == NULL;
  client->lists = devbg_list_channel_new (connection);
  client_start_watching (client);
  return client;
}

/**
 * devbg_client_new_sync:
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS when set) and makes a
 * client of devbgd on it. Blocks: an app with a main loop uses
 * devbg_client_new_async().
 *
 * devbgd need not run: the client follows it, and whatever it registered
 * it watches again when devbgd comes (back). A call made while devbgd is
 * not on the bus fails with %G_DBUS_ERROR_SERVICE_UNKNOWN (devbgd is not
 * installed or cannot be started) or %G_DBUS_ERROR_NAME_HAS_NO_OWNER
 * (it is not running), not with a #DEVBG_ERROR: that is how an app tells
 * "devbgd is not there" from devbgd's answers.
 *
 * Returns: (transfer full): a new client, or %NULL with @error set
 *
 * Since: 0.1
 */
DevbgClient *
devbg_client_new_sync (GCancellable *cancellable, GError **error)
{
  g_autoptr(GDBusConnection) connection = g_bus_get_sync (G_BUS_TYPE_SYSTEM, cancellable, error);

  if (connection == NULL)
    return NULL;
  return devbg_client_new_for_connection (connection);
}

/**
 * devbg_client_get_status_sync:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * GetStatus: devbgd's version, the caller's identity as devbgd sees it
 * (app-id, identity) and the policy state; see the D-Bus API for the keys.
 *
 * Returns: (transfer full): an `a{sv}` dictionary, or %NULL with @error set
 *
 * Since: 0.1
 */
GVariant *
devbg_client_get_status_sync (DevbgClient *client, GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = call_sync (client, "GetStatus", NULL, G_VARIANT_TYPE ("(a{sv})"),
                                         cancellable, error);
  GVariant *status;

  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(@a{sv})", &status);
  return status;
}

static gboolean
instance_call_sync (DevbgClient *client, const char *method, const char *instance_id,
                    GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  if (!devbg_check_string_arg ("the instance ID", instance_id, FALSE, MAX_ID, error))
    return FALSE;
  reply = call_sync (client, method, g_variant_new ("(s)", instance_id), G_VARIANT_TYPE_UNIT,
                     cancellable, error);
  return reply != NULL;
}

/**
 * devbg_client_detach_sync:
 * @client: a #DevbgClient
 * @instance_id: a running instance of one of the app's tasks
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Lets a running instance outlive the app (it is otherwise canceled, reason
 * terminating, when the app's connection closes).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
devbg_client_detach_sync (DevbgClient *client, const char *instance_id,
                          GCancellable *cancellable, GError **error)
{
  return instance_call_sync (client, "Detach", instance_id, cancellable, error);
}

/**
 * devbg_client_cancel_sync:
 * @client: a #DevbgClient
 * @instance_id: a running instance of one of the app's tasks
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Cancels a running instance (reason abort).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
devbg_client_cancel_sync (DevbgClient *client, const char *instance_id,
                          GCancellable *cancellable, GError **error)
{
  return instance_call_sync (client, "Cancel", instance_id, cancellable, error);
}

/* ---- DevbgTrigger ---- */

struct _DevbgTrigger {
  GObject          parent;
  DevbgTriggerType type;
};

G_DEFINE_TYPE (DevbgTrigger, devbg_trigger, G_TYPE_OBJECT)

enum { TRIGGER_PROP_0, TRIGGER_PROP_TRIGGER_TYPE };

static void
devbg_trigger_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  if (id == TRIGGER_PROP_TRIGGER_TYPE)
    g_value_set_enum (value, DEVBG_TRIGGER (object)->type);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
devbg_trigger_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  if (id == TRIGGER_PROP_TRIGGER_TYPE)
    DEVBG_TRIGGER (object)->type = g_value_get_enum (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
devbg_trigger_class_init (DevbgTriggerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = devbg_trigger_get_property;
  object_class->set_property = devbg_trigger_set_property;
  /**
   * DevbgTrigger:trigger-type:
   *
   * The kind of work the trigger requests: data sync (use) or firmware
   * update (servicing). Set when the trigger is made.
   *
   * Since: 0.1
   */
  g_object_class_install_property (
    object_class, TRIGGER_PROP_TRIGGER_TYPE,
    g_param_spec_enum ("trigger-type", NULL, "Use or servicing", DEVBG_TYPE_TRIGGER_TYPE,
                       DEVBG_TRIGGER_USE,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
}

static void devbg_trigger_init (DevbgTrigger *trigger) { (void) trigger; }

static DevbgTrigger *
trigger_new (DevbgTriggerType type)
{
  return g_object_new (DEVBG_TYPE_TRIGGER, "trigger-type", type, NULL);
}

/**
 * devbg_use_trigger_new:
 * Returns: (transfer full): a trigger for data sync (Windows'
 *   DeviceUseTrigger)
 *
 * Since: 0.1
 */
DevbgTrigger *devbg_use_trigger_new (void) { return trigger_new (DEVBG_TRIGGER_USE); }
/**
 * devbg_servicing_trigger_new:
 * Returns: (transfer full): a trigger for firmware updates (Windows'
 *   DeviceServicingTrigger)
 *
 * Since: 0.1
 */
DevbgTrigger *devbg_servicing_trigger_new (void) { return trigger_new (DEVBG_TRIGGER_SERVICING); }

/**
 * devbg_trigger_get_trigger_type:
 * @trigger: a #DevbgTrigger
 *
 * Returns: the trigger's type
 *
 * Since: 0.1
 */
DevbgTriggerType
devbg_trigger_get_trigger_type (DevbgTrigger *trigger)
{
  return trigger->type;
}

/* ---- DevbgRegistration ---- */

struct _DevbgRegistration {
  GObject          parent;
  DevbgClient     *client;
  char            *task_id;
  char            *name;
  char            *entry_point;
  DevbgTriggerType trigger;
};

G_DEFINE_TYPE (DevbgRegistration, devbg_registration, G_TYPE_OBJECT)

static void
devbg_registration_dispose (GObject *object)
{
  DevbgRegistration *reg = DEVBG_REGISTRATION (object);

  /* No longer live: later events for this task wait in the client. */
  if (reg->client != NULL &&
      g_hash_table_lookup (reg->client->registrations, reg->task_id) == reg)
    g_hash_table_remove (reg->client->registrations, reg->task_id);
  g_clear_object (&reg->client);
  G_OBJECT_CLASS (devbg_registration_parent_class)->dispose (object);
}

static void
devbg_registration_finalize (GObject *object)
{
  DevbgRegistration *reg = DEVBG_REGISTRATION (object);

  g_free (reg->task_id);
  g_free (reg->name);
  g_free (reg->entry_point);
  G_OBJECT_CLASS (devbg_registration_parent_class)->finalize (object);
}

enum {
  REG_PROP_0, REG_PROP_TASK_ID, REG_PROP_NAME, REG_PROP_ENTRY_POINT, REG_PROP_TRIGGER_TYPE,
  REG_PROP_CLIENT, N_REG_PROPS
};

static void
devbg_registration_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  DevbgRegistration *reg = DEVBG_REGISTRATION (object);

  switch (id)
    {
    case REG_PROP_TASK_ID: g_value_set_string (value, reg->task_id); break;
    case REG_PROP_NAME: g_value_set_string (value, reg->name); break;
    case REG_PROP_ENTRY_POINT: g_value_set_string (value, reg->entry_point); break;
    case REG_PROP_TRIGGER_TYPE: g_value_set_enum (value, reg->trigger); break;
    case REG_PROP_CLIENT: g_value_set_object (value, reg->client); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec); break;
    }
}

static void
devbg_registration_class_init (DevbgRegistrationClass *klass)
{
  GParamSpec *props[N_REG_PROPS] = { NULL };

  G_OBJECT_CLASS (klass)->dispose = devbg_registration_dispose;
  G_OBJECT_CLASS (klass)->finalize = devbg_registration_finalize;
  G_OBJECT_CLASS (klass)->get_property = devbg_registration_get_property;
  /**
   * DevbgRegistration:task-id:
   *
   * The task ID devbgd gave the registration.
   *
   * Since: 0.1
   */
  props[REG_PROP_TASK_ID] = read_only_string ("task-id", "The task ID");
  /**
   * DevbgRegistration:name:
   *
   * The task's name.
   *
   * Since: 0.1
   */
  props[REG_PROP_NAME] = read_only_string ("name", "The task's name");
  /**
   * DevbgRegistration:entry-point:
   *
   * The task's entry point.
   *
   * Since: 0.1
   */
  props[REG_PROP_ENTRY_POINT] = read_only_string ("entry-point", "The entry point");
  /**
   * DevbgRegistration:trigger-type:
   *
   * The type of trigger the task was registered with.
   *
   * Since: 0.1
   */
  props[REG_PROP_TRIGGER_TYPE] =
    g_param_spec_enum ("trigger-type", NULL, "Use or servicing", DEVBG_TYPE_TRIGGER_TYPE,
                       DEVBG_TRIGGER_USE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DevbgRegistration:client:
   *
   * The client the registration belongs to.
   *
   * Since: 0.1
   */
  props[REG_PROP_CLIENT] =
    g_param_spec_object ("client", NULL, "The client", DEVBG_TYPE_CLIENT,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (G_OBJECT_CLASS (klass), N_REG_PROPS, props);

  /**
   * DevbgRegistration::progress:
   * @reg: the registration
   * @instance_id: the instance that reported progress
   * @progress: its progress, 0 to 100
   *
   * A running instance of the task reported progress. Emitted from the
   * client's main context; not queued while no object is live.
   *
   * Since: 0.1
   */
  registration_signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
  /**
   * DevbgRegistration::completed:
   * @reg: the registration
   * @completion: how the instance ended
   *
   * An instance of the task ended. Emitted from the client's main context;
   * the completion is acknowledged to devbgd once this was emitted, and
   * one that arrives while no handler is connected waits in the client.
   *
   * Since: 0.1
   */
  registration_signals[SIGNAL_COMPLETED] =
    g_signal_new ("completed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_COMPLETION);
}

static void devbg_registration_init (DevbgRegistration *reg) { (void) reg; }

/* The live object for @task_id, or a new one made live. Events queued for
 * the task are then delivered from an idle callback, after the caller has
 * had the chance to connect its handlers. */
static DevbgRegistration *
registration_get (DevbgClient *client, const char *task_id, const char *name,
                  const char *entry_point, DevbgTriggerType trigger)
{
  DevbgRegistration *reg = g_hash_table_lookup (client->registrations, task_id);

  if (reg != NULL)
    g_object_ref (reg);
  else
    {
      reg = g_object_new (DEVBG_TYPE_REGISTRATION, NULL);
      reg->client = g_object_ref (client);
      reg->task_id = g_strdup (task_id);
      reg->name = g_strdup (name);
      reg->entry_point = g_strdup (entry_point);
      reg->trigger = trigger;
      g_hash_table_insert (client->registrations, g_strdup (task_id), reg);
    }
  if (g_hash_table_contains (client->queued, task_id))
    client_schedule_flush (client);
  return reg;
}

/**
 * devbg_registration_get_task_id:
 * @reg: a #DevbgRegistration
 *
 * Returns: the task ID devbgd gave the registration
 *
 * Since: 0.1
 */
const char *devbg_registration_get_task_id (DevbgRegistration *reg) { return reg->task_id; }
/**
 * devbg_registration_get_name:
 * @reg: a #DevbgRegistration
 *
 * Returns: the task's name
 *
 * Since: 0.1
 */
const char *devbg_registration_get_name (DevbgRegistration *reg) { return reg->name; }
/**
 * devbg_registration_get_entry_point:
 * @reg: a #DevbgRegistration
 *
 * Returns: the task's entry point
 *
 * Since: 0.1
 */
const char *devbg_registration_get_entry_point (DevbgRegistration *reg) { return reg->entry_point; }
/**
 * devbg_registration_get_trigger_type:
 * @reg: a #DevbgRegistration
 *
 * Returns: the type of trigger the task was registered with
 *
 * Since: 0.1
 */
DevbgTriggerType devbg_registration_get_trigger_type (DevbgRegistration *reg) { return reg->trigger; }
/**
 * devbg_registration_get_client:
 * @reg: a #DevbgRegistration
 *
 * Returns: (transfer none): the client the registration belongs to
 *
 * Since: 0.1
 */
DevbgClient *devbg_registration_get_client (DevbgRegistration *reg) { return reg->client; }

/**
 * devbg_registration_unregister_sync:
 * @reg: a #DevbgRegistration
 * @cancel_task: also cancel its running instance (reason abort); %FALSE
 *   lets it finish
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Removes the registration. A completion of its instances that the client
 * has not delivered yet, or that arrives later, goes to this object's
 * #DevbgRegistration::completed handlers if it has some when the main loop
 * runs next; otherwise it is acknowledged to devbgd and dropped, with a
 * message in the log saying which instance and how it ended. So to learn
 * how a leftover registration's last instance ended, connect a handler
 * before unregistering it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
devbg_registration_unregister_sync (DevbgRegistration *reg, gboolean cancel_task,
                                    GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = call_sync (reg->client, "Unregister",
                                         g_variant_new ("(sb)", reg->task_id, cancel_task),
                                         G_VARIANT_TYPE_UNIT, cancellable, error);

  if (reply == NULL)
    return FALSE;
  registration_mark_unregistered (reg);
  return TRUE;
}

/* After Unregister: completions of the task that are queued, or arrive
 * later, go to this object's "completed" handlers while it lives and has
 * some, else they are dropped and logged (client_drop_unregistered()). */
static void
registration_mark_unregistered (DevbgRegistration *reg)
{
  g_hash_table_insert (reg->client->unregistered, g_strdup (reg->task_id), g_strdup (reg->name));
  client_schedule_flush (reg->client);
}

static GHashTable *
registrations_table_new (void)
{
  /* The keys are the registrations' own task IDs. */
  return g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
}

/* Adds one ListRegistrations page (packed records, devbg-records.h) to
 * @tasks; returns the continuation, owned by @reply ("" when all are in),
 * or NULL with @error when the page is malformed. */
static const char *
add_registrations_page (DevbgClient *client, GHashTable *tasks, GVariant *reply, GError **error)
{
  g_autoptr(GVariant) page = NULL;
  g_autoptr(GPtrArray) fields = NULL;
  const char *next;

  g_variant_get (reply, "(@ay&s)", &page, &next);
  fields = devbg_records_parse_variant (page, DEVBG_REGISTRATION_FIELDS, NULL, error);
  if (fields == NULL)
    return NULL;
  for (guint i = 0; i < fields->len; i += DEVBG_REGISTRATION_FIELDS)
    {
      const char *const *f = (const char *const *) &fields->pdata[i];
      DevbgTriggerType trigger = DEVBG_TRIGGER_USE;
      DevbgRegistration *reg;

      devbg_trigger_type_from_string (f[3], &trigger);
      reg = registration_get (client, f[0], f[1], f[2], trigger);
      g_hash_table_insert (tasks, reg->task_id, reg);
    }
  return next;
}

/**
 * devbg_client_get_all_tasks_sync:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The app's registrations (Windows' BackgroundTaskRegistration.AllTasks),
 * the live objects of this client.
 *
 * Returns: (transfer container) (element-type utf8 DevbgRegistration): the
 *   registrations by task ID, or %NULL with @error set; free with
 *   g_hash_table_unref()
 *
 * Since: 0.1
 */
GHashTable *
devbg_client_get_all_tasks_sync (DevbgClient *client, GCancellable *cancellable, GError **error)
{
  g_autoptr(GHashTable) tasks = registrations_table_new ();
  g_autofree char *continuation = g_strdup ("");

  /* devbgd answers a page at a time. */
  do
    {
      g_autoptr(GVariant) reply = call_sync (client, "ListRegistrations",
                                             g_variant_new ("(s)", continuation),
                                             G_VARIANT_TYPE ("(ays)"), cancellable, error);

      if (reply == NULL)
        return NULL;
      const char *next = add_registrations_page (client, tasks, reply, error);

      if (next == NULL)
        return NULL;
      g_free (continuation);
      continuation = g_strdup (next);
    }
  while (*continuation != '\0');
  return g_steal_pointer (&tasks);
}

/* A new reference to the registration named @name in @tasks, or NULL with
 * DEVBG_ERROR_NO_SUCH_REGISTRATION: "none" is an answer of its own, never
 * mistaken for a failed call. */
static DevbgRegistration *
registration_named (GHashTable *tasks, const char *name, GError **error)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, tasks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (strcmp (devbg_registration_get_name (value), name) == 0)
      return g_object_ref (value);
  g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_REGISTRATION,
               "The app has no task named '%s'", name);
  return NULL;
}

/**
 * devbg_client_find_task_sync:
 * @client: a #DevbgClient
 * @name: the task's name
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the app's registration named @name (any one
 *   of them when the app registered that name more than once), or %NULL
 *   with @error set: %DEVBG_ERROR_NO_SUCH_REGISTRATION when the app has
 *   none of that name, another error when devbgd could not be asked
 *
 * Since: 0.1
 */
DevbgRegistration *
devbg_client_find_task_sync (DevbgClient *client, const char *name, GCancellable *cancellable,
                             GError **error)
{
  g_autoptr(GHashTable) tasks = NULL;

  if (!devbg_check_string_arg ("the task name", name, FALSE, MAX_NAME, error))
    return NULL;
  tasks = devbg_client_get_all_tasks_sync (client, cancellable, error);
  if (tasks == NULL)
    return NULL;
  return registration_named (tasks, name, error);
}

/* ---- events out: the queue is flushed to registrations with a handler */

typedef struct {
  DevbgRegistration *reg;      /* owned */
  GPtrArray         *events;   /* of DevbgCompletion, owned */
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  g_object_unref (d->reg);
  g_ptr_array_unref (d->events);
  g_free (d);
}

/* Takes out of the queue the events that now have someone to go to. A
 * registration with no "completed" handler does not count: the event
 * would be acknowledged and lost. */
static GPtrArray *
client_take_deliverable (DevbgClient *client)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (delivery_free);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, client->queued);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      DevbgRegistration *reg = g_hash_table_lookup (client->registrations, key);
      Delivery *d;

      if (reg == NULL ||
          !g_signal_has_handler_pending (reg, registration_signals[SIGNAL_COMPLETED], 0, FALSE))
        continue;
      d = g_new0 (Delivery, 1);
      d->reg = g_object_ref (reg);
      d->events = g_ptr_array_ref (value);
      g_ptr_array_add (out, d);
      g_hash_table_iter_remove (&iter);
    }
  return out;
}

static void
client_acknowledge (DevbgClient *client, GPtrArray *event_ids)
{
  if (client->connection == NULL)
    return;
  /* At most DEVBG_MAX_ACK_IDS a call (devbgd refuses more): one page of
   * pending events may hold DEVBG_EVENTS_PAGE_MAX_ENTRIES, all delivered
   * in one flush. */
  for (guint i = 0; i < event_ids->len; i += DEVBG_MAX_ACK_IDS)
    {
      GVariant *ids = g_variant_new_strv ((const char *const *) event_ids->pdata + i,
                                          MIN (event_ids->len - i, DEVBG_MAX_ACK_IDS));

      /* Fire and forget: an acknowledgement that is lost only means the
       * event comes again with the next WatchEvents, and is then
       * recognised by its ID. */
      client->acks_unflushed = TRUE;
      g_dbus_connection_call (client->connection, client->peer_to_peer ? NULL : BUS_NAME,
                              OBJECT_PATH, IFACE, "AcknowledgeEvents",
                              g_variant_new_tuple (&ids, 1), NULL, G_DBUS_CALL_FLAGS_NONE, -1,
                              NULL, NULL, NULL);
    }
}

/* The completions still queued for tasks this client unregistered, and
 * that no live object with a handler took: no object can take them any
 * more, so they are acknowledged (devbgd would keep them, counting against
 * the app's MaxPendingEvents) and dropped, and the log says so. */
static void
client_drop_unregistered (DevbgClient *client, GPtrArray *acked)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, client->queued);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *name = g_hash_table_lookup (client->unregistered, key);
      GPtrArray *events = value;

      if (name == NULL)
        continue;
      for (guint i = 0; i < events->len; i++)
        {
          DevbgCompletion *c = g_ptr_array_index (events, i);

          g_message ("devbg: the completion of instance %s of task '%s' (%s%s) was not "
                     "delivered: the task was unregistered before a \"completed\" handler "
                     "was connected", c->instance_id, name,
                     c->success ? "succeeded" : "failed: ", c->success ? "" : c->error_message);
          g_ptr_array_add (acked, g_strdup (c->event_id));
        }
      g_hash_table_iter_remove (&iter);
    }
}

static gboolean
client_flush (gpointer data)
{
  DevbgClient *client = data;
  g_autoptr(GPtrArray) deliveries = NULL;
  g_autoptr(GPtrArray) acked = g_ptr_array_new_with_free_func (g_free);

  client->flush_source = 0;
  /* Collected first, emitted after: a handler may drop its registration,
   * ask for the tasks again, or unregister, all of which touch the tables. */
  deliveries = client_take_deliverable (client);
  client_drop_unregistered (client, acked);
  for (guint i = 0; i < deliveries->len; i++)
    {
      Delivery *d = g_ptr_array_index (deliveries, i);

      for (guint j = 0; j < d->events->len; j++)
        {
          DevbgCompletion *c = g_ptr_array_index (d->events, j);

          g_signal_emit (d->reg, registration_signals[SIGNAL_COMPLETED], 0, c);
          g_ptr_array_add (acked, g_strdup (c->event_id));
        }
    }
  client_acknowledge (client, acked);
  return G_SOURCE_REMOVE;
}

static void
client_schedule_flush (DevbgClient *client)
{
  g_autoptr(GSource) source = NULL;

  if (client->flush_source != 0)
    return;
  source = g_idle_source_new ();
  g_source_set_callback (source, client_flush, g_object_ref (client), g_object_unref);
  g_source_set_name (source, "[devbg] deliver completion events");
  client->flush_source = g_source_attach (source, client->context);
}

/* ---- requesting a trigger */

typedef struct {
  DevbgTriggerResult result;
  char              *reason;
  char              *instance_id;
  char              *detail;
} RequestReply;

static void
request_reply_free (gpointer data)
{
  RequestReply *r = data;

  g_free (r->reason);
  g_free (r->instance_id);
  g_free (r->detail);
  g_free (r);
}

static gboolean
check_request (DevbgTrigger *trigger, DevbgRegistration *reg, const char *device_id,
               const char *arguments, guint expected_duration_s, GError **error)
{
  if (reg == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "A request needs the registration of the task to run");
      return FALSE;
    }
  if (reg->trigger != trigger->type)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_WRONG_TRIGGER_TYPE,
                   "Task '%s' is registered with a %s trigger, not a %s trigger", reg->name,
                   devbg_trigger_type_to_string (reg->trigger),
                   devbg_trigger_type_to_string (trigger->type));
      return FALSE;
    }
  if (!devbg_check_string_arg ("the device ID", device_id, FALSE, MAX_DEVICE_ID, error) ||
      !devbg_check_string_arg ("the arguments", arguments, TRUE, MAX_ARGUMENTS, error))
    return FALSE;
  if (trigger->type == DEVBG_TRIGGER_USE && expected_duration_s != 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "A use trigger takes no expected duration");
      return FALSE;
    }
  return TRUE;
}

static void
request_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  RequestReply *r;
  guint32 code;

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  r = g_new0 (RequestReply, 1);
  g_variant_get (reply, "(usss)", &code, &r->reason, &r->instance_id, &r->detail);
  /* A result newer than this library is a denial, still with its reason. */
  r->result = code <= DEVBG_RESULT_LOW_BATTERY ? (DevbgTriggerResult) code
                                               : DEVBG_RESULT_DENIED_BY_SYSTEM;
  g_task_return_pointer (task, r, request_reply_free);
}

/**
 * devbg_trigger_request_async:
 * @trigger: a #DevbgTrigger
 * @reg: the registration of the task to run; registered with a trigger of
 *   this trigger's type
 * @device_id: the device to run it on
 * @arguments: (nullable): handed to the task as it is, at most
 *   %DEVBG_MAX_ARGUMENTS bytes of UTF-8; %NULL is ""
 * @expected_duration_s: for a servicing trigger, the expected duration in
 *   seconds, shown in the consent prompt (0: unknown); 0 for a use trigger
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with devbgd's answer
 * @user_data: (closure callback): data for @callback
 *
 * Requests a task instance of @reg on @device_id (Windows'
 * trigger.RequestAsync(deviceId[, expectedDuration], arguments)); finish
 * with devbg_trigger_request_finish(). Bad arguments are checked here,
 * before anything is sent.
 *
 * The instance lasts as long as the app's connection to devbgd: when the
 * app exits (or its client's connection closes), devbgd cancels it
 * (%DEVBG_CANCEL_TERMINATING) unless the app detached it first
 * (devbg_client_detach_async()). Either way its completion waits for the
 * app's next start.
 *
 * Since: 0.1
 */
void
devbg_trigger_request_async (DevbgTrigger *trigger, DevbgRegistration *reg,
                             const char *device_id, const char *arguments,
                             guint expected_duration_s, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (trigger, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, devbg_trigger_request_async);
  if (arguments == NULL)
    arguments = "";
  if (!check_request (trigger, reg, device_id, arguments, expected_duration_s, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_dbus_connection_call (reg->client->connection, reg->client->peer_to_peer ? NULL : BUS_NAME,
                          OBJECT_PATH, IFACE, "Request",
                          g_variant_new ("(sssu)", reg->task_id, device_id, arguments,
                                         (guint32) expected_duration_s),
                          G_VARIANT_TYPE ("(usss)"), G_DBUS_CALL_FLAGS_NONE,
                          REQUEST_TIMEOUT_MS, cancellable, request_done, g_steal_pointer (&task));
}

/**
 * devbg_trigger_request_finish:
 * @trigger: a #DevbgTrigger
 * @result: the #GAsyncResult given to the callback
 * @reason: (out) (optional) (transfer full): devbgd's machine-readable word
 *   for the answer: allowed, already-running, too-many-pending-events,
 *   no-such-device, device-busy, device-not-accessible,
 *   protocol-not-supported, not-foreground, not-privileged,
 *   estimate-too-long, low-battery, denied-by-user, spawn-failed, ...
 * @instance_id: (out) (optional) (transfer full): the new instance's ID when
 *   allowed, "" otherwise
 * @error: return location for a #GError
 *
 * A denial is not an error: it is the result, with its @reason. Bad
 * arguments and failed calls are errors: then the result is
 * %DEVBG_RESULT_FAILED with @error set, and @reason and @instance_id are
 * left untouched.
 *
 * Returns: the result of the request
 *
 * Since: 0.1
 */
DevbgTriggerResult
devbg_trigger_request_finish (DevbgTrigger *trigger, GAsyncResult *result, char **reason,
                              char **instance_id, GError **error)
{
  return devbg_trigger_request_finish_full (trigger, result, reason, instance_id, NULL, error);
}

/**
 * devbg_trigger_request_finish_full:
 * @trigger: a #DevbgTrigger
 * @result: the #GAsyncResult given to the callback
 * @reason: (out) (optional) (transfer full): devbgd's machine-readable word
 *   for the answer, as devbg_trigger_request_finish() gives it
 * @instance_id: (out) (optional) (transfer full): the new instance's ID when
 *   allowed, "" otherwise
 * @detail: (out) (optional) (transfer full): a sentence for the app's
 *   developer, "" for most answers. For `spawn-failed` it says why the task
 *   program did not start, as far as the app's user may know: the program,
 *   the step that failed and its error ("Could not start
 *   /usr/libexec/app/task (executing): No such file or directory"), or that
 *   devbgd could not prepare the process (then only devbgd's log says why).
 * @error: return location for a #GError
 *
 * devbg_trigger_request_finish(), with devbgd's detail too. Errors as
 * there: @reason, @instance_id and @detail are left untouched on error.
 *
 * Returns: the result of the request
 *
 * Since: 0.1
 */
DevbgTriggerResult
devbg_trigger_request_finish_full (DevbgTrigger *trigger, GAsyncResult *result, char **reason,
                                   char **instance_id, char **detail, GError **error)
{
  RequestReply *r;
  DevbgTriggerResult code;

  g_return_val_if_fail (g_task_is_valid (result, trigger), DEVBG_RESULT_FAILED);
  r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return DEVBG_RESULT_FAILED;
  code = r->result;
  if (reason != NULL)
    *reason = g_steal_pointer (&r->reason);
  if (instance_id != NULL)
    *instance_id = g_steal_pointer (&r->instance_id);
  if (detail != NULL)
    *detail = g_steal_pointer (&r->detail);
  request_reply_free (r);
  return code;
}

/**
 * devbg_trigger_request_sync:
 * @trigger: a #DevbgTrigger
 * @reg: the registration of the task to run
 * @device_id: the device to run it on
 * @arguments: (nullable): handed to the task as it is; %NULL is ""
 * @expected_duration_s: for a servicing trigger, the expected duration in
 *   seconds (0: unknown); 0 for a use trigger
 * @reason: (out) (optional) (transfer full): devbgd's word for the answer
 * @instance_id: (out) (optional) (transfer full): the new instance's ID when
 *   allowed, "" otherwise
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_trigger_request_async(), with the same
 * arguments and answers.
 *
 * Returns: the result of the request
 *
 * Since: 0.1
 */
DevbgTriggerResult
devbg_trigger_request_sync (DevbgTrigger *trigger, DevbgRegistration *reg,
                            const char *device_id, const char *arguments,
                            guint expected_duration_s, char **reason, char **instance_id,
                            GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  guint32 code;

  if (arguments == NULL)
    arguments = "";
  if (!check_request (trigger, reg, device_id, arguments, expected_duration_s, error))
    return DEVBG_RESULT_FAILED;
  /* A consent prompt may take ConsentTimeout: devbgd bounds the wait. */
  reply = g_dbus_connection_call_sync (reg->client->connection,
                                       reg->client->peer_to_peer ? NULL : BUS_NAME, OBJECT_PATH,
                                       IFACE, "Request",
                                       g_variant_new ("(sssu)", reg->task_id, device_id,
                                                      arguments, (guint32) expected_duration_s),
                                       G_VARIANT_TYPE ("(usss)"), G_DBUS_CALL_FLAGS_NONE,
                                       REQUEST_TIMEOUT_MS, cancellable, error);
  if (reply == NULL && error != NULL && *error != NULL)
    g_dbus_error_strip_remote_error (*error);
  if (reply == NULL)
    return DEVBG_RESULT_FAILED;
  g_variant_get (reply, "(u&s&s&s)", &code, NULL, NULL, NULL);
  if (reason != NULL)
    g_variant_get_child (reply, 1, "s", reason);
  if (instance_id != NULL)
    g_variant_get_child (reply, 2, "s", instance_id);
  return code <= DEVBG_RESULT_LOW_BATTERY ? (DevbgTriggerResult) code
                                          : DEVBG_RESULT_DENIED_BY_SYSTEM;
}

/* ---- DevbgTaskBuilder ---- */

struct _DevbgTaskBuilder {
  GObject       parent;
  char         *name;
  char         *entry_point;
  DevbgTrigger *trigger;
};

G_DEFINE_TYPE (DevbgTaskBuilder, devbg_task_builder, G_TYPE_OBJECT)

static void
devbg_task_builder_finalize (GObject *object)
{
  DevbgTaskBuilder *builder = DEVBG_TASK_BUILDER (object);

  g_free (builder->name);
  g_free (builder->entry_point);
  g_clear_object (&builder->trigger);
  G_OBJECT_CLASS (devbg_task_builder_parent_class)->finalize (object);
}

enum { BUILDER_PROP_0, BUILDER_PROP_NAME, BUILDER_PROP_ENTRY_POINT, BUILDER_PROP_TRIGGER,
       N_BUILDER_PROPS };

static void
devbg_task_builder_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  DevbgTaskBuilder *builder = DEVBG_TASK_BUILDER (object);

  switch (id)
    {
    case BUILDER_PROP_NAME: g_value_set_string (value, builder->name); break;
    case BUILDER_PROP_ENTRY_POINT: g_value_set_string (value, builder->entry_point); break;
    case BUILDER_PROP_TRIGGER: g_value_set_object (value, builder->trigger); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec); break;
    }
}

static void
devbg_task_builder_set_property (GObject *object, guint id, const GValue *value,
                                 GParamSpec *pspec)
{
  DevbgTaskBuilder *builder = DEVBG_TASK_BUILDER (object);

  switch (id)
    {
    case BUILDER_PROP_NAME:
      devbg_task_builder_set_name (builder, g_value_get_string (value));
      break;
    case BUILDER_PROP_ENTRY_POINT:
      devbg_task_builder_set_task_entry_point (builder, g_value_get_string (value));
      break;
    case BUILDER_PROP_TRIGGER:
      devbg_task_builder_set_trigger (builder, g_value_get_object (value));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec); break;
    }
}

static void
devbg_task_builder_class_init (DevbgTaskBuilderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamSpec *props[N_BUILDER_PROPS] = { NULL };
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = devbg_task_builder_finalize;
  object_class->get_property = devbg_task_builder_get_property;
  object_class->set_property = devbg_task_builder_set_property;
  /**
   * DevbgTaskBuilder:name:
   *
   * The task's name. The app keeps it unique among its registrations:
   * devbgd registers a second task of a name already taken, and
   * devbg_client_find_task_sync() then returns either one.
   *
   * Since: 0.1
   */
  props[BUILDER_PROP_NAME] = g_param_spec_string ("name", NULL, "The task's name", NULL, rw);
  /**
   * DevbgTaskBuilder:entry-point:
   *
   * The task's entry point, declared in the app's manifest.
   *
   * Since: 0.1
   */
  props[BUILDER_PROP_ENTRY_POINT] =
    g_param_spec_string ("entry-point", NULL, "The entry point", NULL, rw);
  /**
   * DevbgTaskBuilder:trigger:
   *
   * The trigger the task is requested with.
   *
   * Since: 0.1
   */
  props[BUILDER_PROP_TRIGGER] =
    g_param_spec_object ("trigger", NULL, "The trigger", DEVBG_TYPE_TRIGGER, rw);
  g_object_class_install_properties (object_class, N_BUILDER_PROPS, props);
}

static void devbg_task_builder_init (DevbgTaskBuilder *builder) { (void) builder; }

/**
 * devbg_task_builder_new:
 * Returns: (transfer full): a new, empty task builder
 *
 * Since: 0.1
 */
DevbgTaskBuilder *devbg_task_builder_new (void) { return g_object_new (DEVBG_TYPE_TASK_BUILDER, NULL); }

/**
 * devbg_task_builder_set_name:
 * @builder: a #DevbgTaskBuilder
 * @name: the task's name, which the app keeps unique among its
 *   registrations (see #DevbgTaskBuilder:name)
 *
 * Sets the task's name.
 *
 * Since: 0.1
 */
void
devbg_task_builder_set_name (DevbgTaskBuilder *builder, const char *name)
{
  g_free (builder->name);
  builder->name = g_strdup (name);
  g_object_notify (G_OBJECT (builder), "name");
}

/**
 * devbg_task_builder_set_task_entry_point:
 * @builder: a #DevbgTaskBuilder
 * @entry_point: the entry point, declared in the app's manifest for the
 *   trigger's type
 *
 * Sets the task's entry point.
 *
 * Since: 0.1
 */
void
devbg_task_builder_set_task_entry_point (DevbgTaskBuilder *builder, const char *entry_point)
{
  g_free (builder->entry_point);
  builder->entry_point = g_strdup (entry_point);
  g_object_notify (G_OBJECT (builder), "entry-point");
}

/**
 * devbg_task_builder_set_trigger:
 * @builder: a #DevbgTaskBuilder
 * @trigger: the trigger the task is requested with
 *
 * Sets the trigger the task is registered with.
 *
 * Since: 0.1
 */
void
devbg_task_builder_set_trigger (DevbgTaskBuilder *builder, DevbgTrigger *trigger)
{
  if (g_set_object (&builder->trigger, trigger))
    g_object_notify (G_OBJECT (builder), "trigger");
}

static gboolean
check_builder (DevbgTaskBuilder *builder, GError **error)
{
  if (builder->name == NULL || builder->entry_point == NULL || builder->trigger == NULL)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_INVALID_ARGUMENT,
                   "a task needs a name, an entry point and a trigger before it is registered");
      return FALSE;
    }
  return devbg_check_string_arg ("the task name", builder->name, FALSE, MAX_NAME, error) &&
         devbg_check_string_arg ("the entry point", builder->entry_point, FALSE,
                                 MAX_ENTRY_POINT, error);
}

static GVariant *
register_params (DevbgTaskBuilder *builder)
{
  return g_variant_new ("(sss)", builder->name, builder->entry_point,
                        devbg_trigger_type_to_string (builder->trigger->type));
}

/* The live registration for Register's reply. */
static DevbgRegistration *
registration_from_reply (DevbgTaskBuilder *builder, DevbgClient *client, GVariant *reply)
{
  const char *task_id;

  g_variant_get (reply, "(&s)", &task_id);
  return registration_get (client, task_id, builder->name, builder->entry_point,
                           builder->trigger->type);
}

/**
 * devbg_task_builder_register_sync:
 * @builder: a #DevbgTaskBuilder
 * @client: the client to register with
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Registers the task with devbgd, which checks the arguments (the entry
 * point must be declared in the app's manifest for the trigger's type).
 *
 * Returns: (transfer full): the registration, or %NULL with @error set
 *
 * Since: 0.1
 */
DevbgRegistration *
devbg_task_builder_register_sync (DevbgTaskBuilder *builder, DevbgClient *client,
                                  GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = NULL;

  if (!check_builder (builder, error))
    return NULL;
  reply = call_sync (client, "Register", register_params (builder), G_VARIANT_TYPE ("(s)"),
                     cancellable, error);
  if (reply == NULL)
    return NULL;
  return registration_from_reply (builder, client, reply);
}

/* ---- the async forms: each call is one GTask, answered from its reply */

/* What turns devbgd's reply into the task's result (or another call). */
typedef void (*ReplyHandler) (GTask *task, DevbgClient *client, GVariant *reply);

typedef struct {
  GTask        *task;    /* owned */
  DevbgClient  *client;  /* owned */
  ReplyHandler  handle;
} CallData;

static void
call_data_free (CallData *d)
{
  g_object_unref (d->task);
  g_object_unref (d->client);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CallData, call_data_free)

static void
call_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(CallData) d = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (d->task, g_steal_pointer (&error));
      return;
    }
  d->handle (d->task, d->client, reply);
}

/* Calls @method of devbgd for @task (a reference is taken) and hands the
 * reply to @handle, or returns the call's error from @task. */
static void
call_async_on (DevbgClient *client, const char *iface, GTask *task, const char *method,
               GVariant *params, const GVariantType *reply_type, ReplyHandler handle)
{
  CallData *d = g_new0 (CallData, 1);

  d->task = g_object_ref (task);
  d->client = g_object_ref (client);
  d->handle = handle;
  g_dbus_connection_call (client->connection, client->peer_to_peer ? NULL : BUS_NAME,
                          OBJECT_PATH, iface, method, params, reply_type,
                          G_DBUS_CALL_FLAGS_NONE, -1, g_task_get_cancellable (task),
                          call_done, d);
}

static void
call_async (DevbgClient *client, GTask *task, const char *method, GVariant *params,
            const GVariantType *reply_type, ReplyHandler handle)
{
  call_async_on (client, IFACE, task, method, params, reply_type, handle);
}

static void
list_call_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(CallData) d = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = devbg_list_channel_call_finish (result, &error);

  (void) source;
  if (reply == NULL)
    g_task_return_error (d->task, g_steal_pointer (&error));
  else
    d->handle (d->task, d->client, reply);
}

/* call_async() for a long list: on the client's list channel. */
static void
list_call_async (DevbgClient *client, GTask *task, const char *method, GVariant *params,
                 const GVariantType *reply_type, ReplyHandler handle)
{
  CallData *d = g_new0 (CallData, 1);

  d->task = g_object_ref (task);
  d->client = g_object_ref (client);
  d->handle = handle;
  devbg_list_channel_call (client->lists, method, params, reply_type,
                           g_task_get_cancellable (task), list_call_done, d);
}

static void
return_true (GTask *task, DevbgClient *client, GVariant *reply)
{
  g_task_return_boolean (task, TRUE);
}

static void
return_status (GTask *task, DevbgClient *client, GVariant *reply)
{
  g_task_return_pointer (task, g_variant_get_child_value (reply, 0),
                         (GDestroyNotify) g_variant_unref);
}

static gboolean
finish_boolean (gpointer source, GAsyncResult *result, gpointer tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, source), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gpointer
finish_pointer (gpointer source, GAsyncResult *result, gpointer tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, source), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
client_bus_ready (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = g_bus_get_finish (result, &error);

  if (connection == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, devbg_client_new_for_connection (connection), g_object_unref);
}

static GTask *
task_new (gpointer source, GCancellable *cancellable, GAsyncReadyCallback callback,
          gpointer user_data, gpointer tag)
{
  GTask *task = g_task_new (source, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  return task;
}

/**
 * devbg_client_new_async:
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the client is ready
 * @user_data: (closure callback): data for @callback
 *
 * Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS when set) and makes a
 * client of devbgd on it. Finish with devbg_client_new_finish(). The client
 * belongs to the thread-default main context current when this is called.
 *
 * Since: 0.1
 */
void
devbg_client_new_async (GCancellable *cancellable, GAsyncReadyCallback callback,
                        gpointer user_data)
{
  g_autoptr(GTask) task = task_new (NULL, cancellable, callback, user_data,
                                    devbg_client_new_async);

  g_bus_get (G_BUS_TYPE_SYSTEM, cancellable, client_bus_ready, g_steal_pointer (&task));
}

/**
 * devbg_client_new_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new client, or %NULL with @error set when
 *   the system bus cannot be reached
 *
 * Since: 0.1
 */
DevbgClient *
devbg_client_new_finish (GAsyncResult *result, GError **error)
{
  return finish_pointer (NULL, result, devbg_client_new_async, error);
}

/**
 * devbg_client_get_status_async:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * Asks devbgd for its status (GetStatus); finish with
 * devbg_client_get_status_finish().
 *
 * Since: 0.1
 */
void
devbg_client_get_status_async (DevbgClient *client, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data,
                                    devbg_client_get_status_async);

  call_async (client, task, "GetStatus", NULL, G_VARIANT_TYPE ("(a{sv})"), return_status);
}

/**
 * devbg_client_get_status_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the status, an `a{sv}` dictionary as the
 *   D-Bus API's GetStatus describes it, or %NULL with @error set
 *
 * Since: 0.1
 */
GVariant *
devbg_client_get_status_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_pointer (client, result, devbg_client_get_status_async, error);
}

static void instance_call_async (DevbgClient *client, const char *method, const char *instance_id,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data, gpointer tag);

/**
 * devbg_client_detach_async:
 * @client: a #DevbgClient
 * @instance_id: a running instance of one of the app's tasks
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when devbgd answered
 * @user_data: (closure callback): data for @callback
 *
 * The async form of devbg_client_detach_sync(); finish with
 * devbg_client_detach_finish().
 *
 * Since: 0.1
 */
void
devbg_client_detach_async (DevbgClient *client, const char *instance_id,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  instance_call_async (client, "Detach", instance_id, cancellable, callback, user_data,
                       devbg_client_detach_async);
}

/**
 * devbg_client_detach_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the instance is detached, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
devbg_client_detach_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_boolean (client, result, devbg_client_detach_async, error);
}

/**
 * devbg_client_cancel_async:
 * @client: a #DevbgClient
 * @instance_id: a running instance of one of the app's tasks
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when devbgd answered
 * @user_data: (closure callback): data for @callback
 *
 * The async form of devbg_client_cancel_sync(); finish with
 * devbg_client_cancel_finish().
 *
 * Since: 0.1
 */
void
devbg_client_cancel_async (DevbgClient *client, const char *instance_id,
                           GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  instance_call_async (client, "Cancel", instance_id, cancellable, callback, user_data,
                       devbg_client_cancel_async);
}

/**
 * devbg_client_cancel_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the instance is being canceled, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
devbg_client_cancel_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_boolean (client, result, devbg_client_cancel_async, error);
}

static void
instance_call_async (DevbgClient *client, const char *method, const char *instance_id,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data, gpointer tag)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data, tag);
  g_autoptr(GError) error = NULL;

  if (!devbg_check_string_arg ("the instance ID", instance_id, FALSE, MAX_ID, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  call_async (client, task, method, g_variant_new ("(s)", instance_id), G_VARIANT_TYPE_UNIT,
              return_true);
}

/* get_all_tasks: a page at a time, the table growing in the task's data */
static void
tasks_page_done (GTask *task, DevbgClient *client, GVariant *reply)
{
  GHashTable *tasks = g_task_get_task_data (task);
  GError *error = NULL;
  const char *next = add_registrations_page (client, tasks, reply, &error);

  if (next == NULL)
    g_task_return_error (task, error);
  else if (*next != '\0')
    call_async (client, task, "ListRegistrations", g_variant_new ("(s)", next),
                G_VARIANT_TYPE ("(ays)"), tasks_page_done);
  else
    g_task_return_pointer (task, g_hash_table_ref (tasks), (GDestroyNotify) g_hash_table_unref);
}

/**
 * devbg_client_get_all_tasks_async:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * The async form of devbg_client_get_all_tasks_sync(); finish with
 * devbg_client_get_all_tasks_finish().
 *
 * Since: 0.1
 */
void
devbg_client_get_all_tasks_async (DevbgClient *client, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data,
                                    devbg_client_get_all_tasks_async);

  g_task_set_task_data (task, registrations_table_new (), (GDestroyNotify) g_hash_table_unref);
  call_async (client, task, "ListRegistrations", g_variant_new ("(s)", ""),
              G_VARIANT_TYPE ("(ays)"), tasks_page_done);
}

/**
 * devbg_client_get_all_tasks_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type utf8 DevbgRegistration): the
 *   app's registrations by task ID, or %NULL with @error set; free with
 *   g_hash_table_unref()
 *
 * Since: 0.1
 */
GHashTable *
devbg_client_get_all_tasks_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_pointer (client, result, devbg_client_get_all_tasks_async, error);
}

static void
find_task_listed (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) tasks = devbg_client_get_all_tasks_finish (DEVBG_CLIENT (source), result,
                                                                  &error);
  DevbgRegistration *reg;

  if (tasks == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  reg = registration_named (tasks, g_task_get_task_data (task), &error);
  if (reg == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, reg, g_object_unref);
}

/**
 * devbg_client_find_task_async:
 * @client: a #DevbgClient
 * @name: the task's name
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * The async form of devbg_client_find_task_sync(); finish with
 * devbg_client_find_task_finish().
 *
 * Since: 0.1
 */
void
devbg_client_find_task_async (DevbgClient *client, const char *name, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data,
                                    devbg_client_find_task_async);
  g_autoptr(GError) error = NULL;

  if (!devbg_check_string_arg ("the task name", name, FALSE, MAX_NAME, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_set_task_data (task, g_strdup (name), g_free);
  devbg_client_get_all_tasks_async (client, cancellable, find_task_listed,
                                    g_steal_pointer (&task));
}

/**
 * devbg_client_find_task_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the app's registration of that name, or %NULL
 *   with @error set: %DEVBG_ERROR_NO_SUCH_REGISTRATION when the app has
 *   none of that name, another error when devbgd could not be asked
 *
 * Since: 0.1
 */
DevbgRegistration *
devbg_client_find_task_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_pointer (client, result, devbg_client_find_task_async, error);
}

static void
return_registered (GTask *task, DevbgClient *client, GVariant *reply)
{
  g_task_return_pointer (task, registration_from_reply (g_task_get_source_object (task), client,
                                                        reply),
                         g_object_unref);
}

/**
 * devbg_task_builder_register_async:
 * @builder: a #DevbgTaskBuilder with a name, an entry point and a trigger
 * @client: the client to register with
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * The async form of devbg_task_builder_register_sync(); finish with
 * devbg_task_builder_register_finish().
 *
 * Since: 0.1
 */
void
devbg_task_builder_register_async (DevbgTaskBuilder *builder, DevbgClient *client,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  g_autoptr(GTask) task = task_new (builder, cancellable, callback, user_data,
                                    devbg_task_builder_register_async);
  g_autoptr(GError) error = NULL;

  if (!check_builder (builder, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  call_async (client, task, "Register", register_params (builder), G_VARIANT_TYPE ("(s)"),
              return_registered);
}

/**
 * devbg_task_builder_register_finish:
 * @builder: a #DevbgTaskBuilder
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the registration, or %NULL with @error set
 *
 * Since: 0.1
 */
DevbgRegistration *
devbg_task_builder_register_finish (DevbgTaskBuilder *builder, GAsyncResult *result,
                                    GError **error)
{
  return finish_pointer (builder, result, devbg_task_builder_register_async, error);
}

static void
return_unregistered (GTask *task, DevbgClient *client, GVariant *reply)
{
  registration_mark_unregistered (g_task_get_source_object (task));
  g_task_return_boolean (task, TRUE);
}

/**
 * devbg_registration_unregister_async:
 * @reg: a #DevbgRegistration
 * @cancel_task: also cancel its running instance (reason abort)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when devbgd answered
 * @user_data: (closure callback): data for @callback
 *
 * The async form of devbg_registration_unregister_sync(); finish with
 * devbg_registration_unregister_finish().
 *
 * Since: 0.1
 */
void
devbg_registration_unregister_async (DevbgRegistration *reg, gboolean cancel_task,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
  g_autoptr(GTask) task = task_new (reg, cancellable, callback, user_data,
                                    devbg_registration_unregister_async);

  call_async (reg->client, task, "Unregister", g_variant_new ("(sb)", reg->task_id, cancel_task),
              G_VARIANT_TYPE_UNIT, return_unregistered);
}

/**
 * devbg_registration_unregister_finish:
 * @reg: a #DevbgRegistration
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the registration is removed, %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
devbg_registration_unregister_finish (DevbgRegistration *reg, GAsyncResult *result,
                                      GError **error)
{
  return finish_boolean (reg, result, devbg_registration_unregister_async, error);
}

/* ---- devices: what devbgd knows, and changes to it */

/* Appends the device to @data, the devices read from a page so far. */
static gboolean
take_device (const char *id, DevbgSerialized properties, gpointer data, GError **error)
{
  DevbgDeviceInfo *info = devbg_device_info_new_serialized (id, properties, error);

  if (info == NULL)
    return FALSE;
  g_ptr_array_add (data, info);
  return TRUE;
}

/* Appends the devices of one ListDevices reply "(ays)" (a page asked for
 * after *@continuation, devbg-device-page.h) to @devices and moves
 * *@continuation to the next page's ("" at the end). FALSE with @error
 * set, and nothing appended, when the page is malformed. */
static gboolean
devices_page_take (GVariant *reply, GPtrArray *devices, char **continuation, GError **error)
{
  g_autoptr(GVariant) bytes_value = g_variant_get_child_value (reply, 0);
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (bytes_value);
  g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func (g_object_unref);
  const char *next;

  g_variant_get_child (reply, 1, "&s", &next);
  if (!devbg_device_page_foreach (bytes, *continuation, next, take_device, page, error))
    return FALSE;
  g_ptr_array_extend_and_steal (devices, g_steal_pointer (&page));
  g_free (*continuation);
  *continuation = g_strdup (next);
  return TRUE;
}

/* An async list of every device: the pages read so far, and where the
 * next one starts. */
typedef struct {
  GPtrArray *devices;
  char      *continuation;
} DevicesRead;

static void
devices_read_free (DevicesRead *read)
{
  g_ptr_array_unref (read->devices);
  g_free (read->continuation);
  g_free (read);
}

static void ask_devices_page (DevbgClient *client, GTask *task);

static void
take_devices_page (GTask *task, DevbgClient *client, GVariant *reply)
{
  DevicesRead *read = g_task_get_task_data (task);
  GError *error = NULL;

  if (!devices_page_take (reply, read->devices, &read->continuation, &error))
    g_task_return_error (task, error);
  else if (*read->continuation != '\0')
    ask_devices_page (client, task);
  else
    g_task_return_pointer (task, g_ptr_array_ref (read->devices),
                           (GDestroyNotify) g_ptr_array_unref);
}

static void
ask_devices_page (DevbgClient *client, GTask *task)
{
  DevicesRead *read = g_task_get_task_data (task);

  call_async_on (client, DEVBG_DBUS_DEVICES_INTERFACE, task, "ListDevices",
                 g_variant_new ("(s)", read->continuation), G_VARIANT_TYPE ("(ays)"),
                 take_devices_page);
}

/**
 * devbg_client_list_devices_async:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * Asks devbgd for the devices it knows, so that an app offers the user
 * real devices instead of hard-coding IDs; finish with
 * devbg_client_list_devices_finish(). To follow later changes, connect to
 * #DevbgClient::device-added, #DevbgClient::device-removed and
 * #DevbgClient::device-changed first.
 *
 * devbgd answers a page of devices at a time; this reads every page, in ID
 * order, and fails with %DEVBG_ERROR_INVALID_ARGUMENT on a malformed one.
 *
 * Since: 0.1
 */
void
devbg_client_list_devices_async (DevbgClient *client, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data,
                                    devbg_client_list_devices_async);
  DevicesRead *read = g_new0 (DevicesRead, 1);

  read->devices = g_ptr_array_new_with_free_func (g_object_unref);
  read->continuation = g_strdup ("");
  g_task_set_task_data (task, read, (GDestroyNotify) devices_read_free);
  ask_devices_page (client, task);
}

/**
 * devbg_client_list_devices_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type DevbgDeviceInfo): the devices,
 *   or %NULL with @error set; free with g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_list_devices_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_pointer (client, result, devbg_client_list_devices_async, error);
}

/**
 * devbg_client_list_devices_sync:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_client_list_devices_async().
 *
 * Returns: (transfer container) (element-type DevbgDeviceInfo): the devices,
 *   or %NULL with @error set; free with g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_list_devices_sync (DevbgClient *client, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *continuation = g_strdup ("");

  /* Page after page: devbg_device_page_foreach() refuses a page that does
   * not advance, so this ends. */
  do
    {
      g_autoptr(GVariant) reply =
        g_dbus_connection_call_sync (client->connection, client->peer_to_peer ? NULL : BUS_NAME,
                                     OBJECT_PATH, DEVBG_DBUS_DEVICES_INTERFACE, "ListDevices",
                                     g_variant_new ("(s)", continuation),
                                     G_VARIANT_TYPE ("(ays)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                     cancellable, error);

      if (reply == NULL)
        {
          if (error != NULL && *error != NULL)
            g_dbus_error_strip_remote_error (*error);
          return NULL;
        }
      if (!devices_page_take (reply, devices, &continuation, error))
        return NULL;
    }
  while (*continuation != '\0');
  return g_steal_pointer (&devices);
}

/* ---- tasks, for tools: running, watched, and the history */

static GPtrArray *
tasks_from_array (GVariant *array)
{
  GPtrArray *tasks = g_ptr_array_new_with_free_func (g_object_unref);
  GVariantIter iter;
  GVariant *entry;

  g_variant_iter_init (&iter, array);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_ptr_array_add (tasks, devbg_task_info_new (entry));
      g_variant_unref (entry);
    }
  return tasks;
}

static void
return_tasks (GTask *task, DevbgClient *client, GVariant *reply)
{
  g_autoptr(GVariant) array = g_variant_get_child_value (reply, 0);

  g_task_return_pointer (task, tasks_from_array (array), (GDestroyNotify) g_ptr_array_unref);
}

static GPtrArray *
tasks_sync (DevbgClient *client, const char *method, GCancellable *cancellable, GError **error)
{
  g_autoptr(GVariant) reply = call_sync (client, method, NULL, G_VARIANT_TYPE ("(aa{sv})"),
                                         cancellable, error);
  g_autoptr(GVariant) array = NULL;

  if (reply == NULL)
    return NULL;
  array = g_variant_get_child_value (reply, 0);
  return tasks_from_array (array);
}

/**
 * devbg_client_list_tasks_async:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * Asks devbgd for the running instances the caller may see (an app: its
 * user's instances of itself; another program: its user's; root: all);
 * finish with devbg_client_list_tasks_finish().
 *
 * Since: 0.1
 */
void
devbg_client_list_tasks_async (DevbgClient *client, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data,
                                    devbg_client_list_tasks_async);

  call_async (client, task, "ListTasks", NULL, G_VARIANT_TYPE ("(aa{sv})"), return_tasks);
}

/**
 * devbg_client_list_tasks_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type DevbgTaskInfo): the running
 *   instances, or %NULL with @error set; free with g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_list_tasks_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_pointer (client, result, devbg_client_list_tasks_async, error);
}

/**
 * devbg_client_list_tasks_sync:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_client_list_tasks_async().
 *
 * Returns: (transfer container) (element-type DevbgTaskInfo): the running
 *   instances, or %NULL with @error set; free with g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_list_tasks_sync (DevbgClient *client, GCancellable *cancellable, GError **error)
{
  return tasks_sync (client, "ListTasks", cancellable, error);
}

/* WatchTasks again after a restart of devbgd: what runs now is reported
 * as changed, so a tool's view catches up. */
static void
rewatched (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(DevbgClient) client = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result,
                                                             &error);
  g_autoptr(GVariant) array = NULL;
  g_autoptr(GPtrArray) tasks = NULL;

  if (reply == NULL)
    return;
  array = g_variant_get_child_value (reply, 0);
  tasks = tasks_from_array (array);
  for (guint i = 0; i < tasks->len; i++)
    g_signal_emit (client, client_signals[SIGNAL_TASK_CHANGED], 0, g_ptr_array_index (tasks, i));
}

static void
client_rewatch_tasks (DevbgClient *client)
{
  g_dbus_connection_call (client->connection, client->peer_to_peer ? NULL : BUS_NAME,
                          OBJECT_PATH, IFACE, "WatchTasks", NULL, G_VARIANT_TYPE ("(aa{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, client->cancellable, rewatched,
                          g_object_ref (client));
}

static void
return_watched_tasks (GTask *task, DevbgClient *client, GVariant *reply)
{
  client->watching_tasks = TRUE;
  return_tasks (task, client, reply);
}

/**
 * devbg_client_watch_tasks_async:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * Like devbg_client_list_tasks_async(), and from then on the client emits
 * #DevbgClient::task-changed and #DevbgClient::task-ended for the
 * instances the caller may see, for as long as it lives (again after
 * devbgd restarts). For tools that follow every task, such as `devbgctl
 * monitor`; an app follows its own tasks with its registrations' signals.
 * Finish with devbg_client_watch_tasks_finish().
 *
 * Since: 0.1
 */
void
devbg_client_watch_tasks_async (DevbgClient *client, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data,
                                    devbg_client_watch_tasks_async);

  call_async (client, task, "WatchTasks", NULL, G_VARIANT_TYPE ("(aa{sv})"),
              return_watched_tasks);
}

/**
 * devbg_client_watch_tasks_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type DevbgTaskInfo): the instances
 *   running when the watch began, or %NULL with @error set; free with
 *   g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_watch_tasks_finish (DevbgClient *client, GAsyncResult *result, GError **error)
{
  return finish_pointer (client, result, devbg_client_watch_tasks_async, error);
}

/**
 * devbg_client_watch_tasks_sync:
 * @client: a #DevbgClient
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_client_watch_tasks_async(). The signals
 * come from the client's main context.
 *
 * Returns: (transfer container) (element-type DevbgTaskInfo): the instances
 *   running when the watch began, or %NULL with @error set; free with
 *   g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_watch_tasks_sync (DevbgClient *client, GCancellable *cancellable, GError **error)
{
  GPtrArray *tasks = tasks_sync (client, "WatchTasks", cancellable, error);

  if (tasks != NULL)
    client->watching_tasks = TRUE;
  return tasks;
}

typedef struct {
  GPtrArray *tasks;
  char      *next;
} HistoryPage;

static void
history_page_free (HistoryPage *page)
{
  g_ptr_array_unref (page->tasks);
  g_free (page->next);
  g_free (page);
}

/* One History page (packed records, devbg-records.h; DEVBG_HISTORY_FIELDS
 * each), or NULL with @error when the page is malformed: devbgd's reply is
 * checked like any input. */
static HistoryPage *
history_page_from_reply (GVariant *reply, GError **error)
{
  g_autoptr(GVariant) packed = g_variant_get_child_value (reply, 0);
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GPtrArray) tasks = NULL;
  HistoryPage *page;

  fields = devbg_records_parse_variant (packed, DEVBG_HISTORY_FIELDS, NULL, error);
  if (fields == NULL)
    return NULL;
  tasks = g_ptr_array_new_full (fields->len / DEVBG_HISTORY_FIELDS, g_object_unref);
  for (guint i = 0; i < fields->len; i += DEVBG_HISTORY_FIELDS)
    {
      DevbgHistoryRecord record;

      if (!devbg_records_decode_history ((const char *const *) &fields->pdata[i],
                                         i / DEVBG_HISTORY_FIELDS, &record, error))
        return NULL;
      g_ptr_array_add (tasks, devbg_task_info_new_from_history (&record, packed));
    }
  page = g_new0 (HistoryPage, 1);
  page->tasks = g_steal_pointer (&tasks);
  g_variant_get_child (reply, 1, "s", &page->next);
  return page;
}

static void
return_history (GTask *task, DevbgClient *client, GVariant *reply)
{
  GError *error = NULL;
  HistoryPage *page = history_page_from_reply (reply, &error);

  if (page == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, page, (GDestroyNotify) history_page_free);
}

static GVariant *
history_params (guint limit, const char *continuation)
{
  return g_variant_new ("(us)", (guint32) limit, continuation != NULL ? continuation : "");
}

/**
 * devbg_client_get_history_async:
 * @client: a #DevbgClient
 * @limit: the most instances to return, at most
 *   %DEVBG_HISTORY_PAGE_MAX_ENTRIES (fewer when the page would pass
 *   devbgd's reply bound, %DEVBG_PACKED_PAGE_MAX_BYTES by default); 0 for
 *   100
 * @continuation: (nullable): where the previous page ended (its
 *   @next_continuation), %NULL for the newest
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: (closure callback): data for @callback
 *
 * Asks devbgd for the finished instances the caller may see, newest first,
 * a page at a time; finish with devbg_client_get_history_finish().
 *
 * The entries of one page share its memory (at most
 * %DEVBG_PACKED_PAGE_MAX_BYTES by default), which is freed with the last
 * of them: an app that keeps a few entries of many pages for long keeps
 * copies of what it needs instead.
 *
 * Since: 0.1
 */
void
devbg_client_get_history_async (DevbgClient *client, guint limit, const char *continuation,
                                GCancellable *cancellable, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  g_autoptr(GTask) task = task_new (client, cancellable, callback, user_data,
                                    devbg_client_get_history_async);

  list_call_async (client, task, "History", history_params (limit, continuation),
              G_VARIANT_TYPE ("(ays)"), return_history);
}

static GPtrArray *
history_page_take (HistoryPage *page, char **next_continuation)
{
  GPtrArray *tasks = g_ptr_array_ref (page->tasks);

  if (next_continuation != NULL)
    *next_continuation = g_steal_pointer (&page->next);
  history_page_free (page);
  return tasks;
}

/**
 * devbg_client_get_history_finish:
 * @client: a #DevbgClient
 * @result: the #GAsyncResult given to the callback
 * @next_continuation: (out) (optional) (transfer full): where the next page
 *   starts, "" after the last page
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type DevbgTaskInfo): the finished
 *   instances, or %NULL with @error set; free with g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_get_history_finish (DevbgClient *client, GAsyncResult *result,
                                 char **next_continuation, GError **error)
{
  HistoryPage *page = finish_pointer (client, result, devbg_client_get_history_async, error);

  return page != NULL ? history_page_take (page, next_continuation) : NULL;
}

/**
 * devbg_client_get_history_sync:
 * @client: a #DevbgClient
 * @limit: the most instances to return; 0 for 100
 * @continuation: (nullable): where the previous page ended, %NULL for the
 *   newest
 * @next_continuation: (out) (optional) (transfer full): where the next page
 *   starts, "" after the last page
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * The blocking form of devbg_client_get_history_async(); as there, the
 * entries of one page share its memory.
 *
 * Returns: (transfer container) (element-type DevbgTaskInfo): the finished
 *   instances, or %NULL with @error set; free with g_ptr_array_unref()
 *
 * Since: 0.1
 */
GPtrArray *
devbg_client_get_history_sync (DevbgClient *client, guint limit, const char *continuation,
                               char **next_continuation, GCancellable *cancellable,
                               GError **error)
{
  g_autoptr(GVariant) reply = devbg_list_channel_call_sync (client->lists, "History",
                                                            history_params (limit, continuation),
                                                            G_VARIANT_TYPE ("(ays)"), cancellable,
                                                            error);
  HistoryPage *page;

  if (reply == NULL)
    return NULL;
  page = history_page_from_reply (reply, error);
  return page != NULL ? history_page_take (page, next_continuation) : NULL;
}
