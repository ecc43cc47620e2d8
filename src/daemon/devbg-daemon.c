/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-daemon.h"

#include <string.h>

#include "devbg-error.h"
#include "devbg-identity.h"
#include "devbg-manifest.h"
#include "devbg-metadata.h"
#include "devbg-store.h"

#define MAX_REGISTRATION_NAME 255

struct _DevbgDaemon {
  GObject          parent;
  DevbgConfig      config;
  char            *proc_root;
  DevbgStore      *store;
  GHashTable      *apps;     /* app ID -> DevbgManifest */
  GPtrArray       *metadata; /* of DevbgMetadata */
  GDBusConnection *connection;
  guint            registration_id;
  GDBusNodeInfo   *introspection;
};

G_DEFINE_TYPE (DevbgDaemon, devbg_daemon, G_TYPE_OBJECT)

/* ---- one call, with its caller resolved ---- */

typedef struct {
  DevbgDaemon           *daemon;
  GDBusMethodInvocation *invocation;
  DevbgIdentity         *caller;
} Call;

static void
call_free (Call *call)
{
  g_object_unref (call->daemon);
  g_clear_object (&call->invocation);
  devbg_identity_free (call->caller);
  g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
return_error (Call *call, GError *error)
{
  g_dbus_method_invocation_return_gerror (g_steal_pointer (&call->invocation), error);
}

static void
return_new_error (Call *call, DevbgError code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
return_new_error (Call *call, DevbgError code, const char *format, ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_dbus_method_invocation_return_dbus_error (g_steal_pointer (&call->invocation),
                                              devbg_error_dbus_name (code), msg);
}

/* The caller must be a known app; otherwise answers UnknownApp. */
static gboolean
require_app (Call *call)
{
  if (call->caller->app_id != NULL)
    return TRUE;
  return_new_error (call, DEVBG_ERROR_UNKNOWN_APP,
                    "the caller (pid %d, uid %u) is not a known app: %s",
                    (int) call->caller->pid, (unsigned) call->caller->uid,
                    call->caller->detail);
  return FALSE;
}

static gboolean
check_text_argument (Call *call, const char *what, const char *value, gsize max)
{
  gsize len = strlen (value);

  if (len == 0 || len > max)
    {
      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "%s must be 1 to %zu bytes long (got %zu)", what, max, len);
      return FALSE;
    }
  for (const char *c = value; *c != '\0'; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      {
        return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                          "%s must not contain control characters", what);
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_task_id (Call *call, const char *task_id)
{
  if (g_uuid_string_is_valid (task_id))
    return TRUE;
  return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                    "task ID '%.64s' is not a UUID", task_id);
  return FALSE;
}

/* ---- methods ---- */

static void
handle_get_status (Call *call, GVariant *params)
{
  DevbgDaemon *daemon = call->daemon;
  GVariantBuilder b;
  gint64 regs = 0;

  (void) params;
  if (call->caller->app_id != NULL)
    regs = devbg_store_count_registrations (daemon->store, call->caller->app_id, NULL);

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&b, "{sv}", "version", g_variant_new_string (PACKAGE_VERSION));
  g_variant_builder_add (&b, "{sv}", "app-id",
                         g_variant_new_string (call->caller->app_id ? call->caller->app_id : ""));
  g_variant_builder_add (&b, "{sv}", "identity",
                         g_variant_new_string (devbg_identity_source_to_string (call->caller->source)));
  g_variant_builder_add (&b, "{sv}", "uid", g_variant_new_uint32 (call->caller->uid));
  g_variant_builder_add (&b, "{sv}", "manifests",
                         g_variant_new_uint32 (g_hash_table_size (daemon->apps)));
  g_variant_builder_add (&b, "{sv}", "metadata", g_variant_new_uint32 (daemon->metadata->len));
  g_variant_builder_add (&b, "{sv}", "registrations", g_variant_new_uint32 ((guint32) MAX (regs, 0)));
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(a{sv})", &b));
}

static void
handle_register (Call *call, GVariant *params)
{
  DevbgDaemon *daemon = call->daemon;
  const char *name, *entry_point, *trigger_str;
  DevbgTriggerType trigger;
  DevbgManifest *manifest;
  const DevbgEntryPoint *ep;
  g_autoptr(GError) error = NULL;
  g_autofree char *task_id = NULL;
  gint64 count;

  g_variant_get (params, "(&s&s&s)", &name, &entry_point, &trigger_str);
  if (!require_app (call) ||
      !check_text_argument (call, "name", name, MAX_REGISTRATION_NAME) ||
      !check_text_argument (call, "entry_point", entry_point, MAX_REGISTRATION_NAME))
    return;
  if (!devbg_trigger_type_from_string (trigger_str, &trigger))
    {
      return_new_error (call, DEVBG_ERROR_INVALID_ARGUMENT,
                        "trigger '%.32s' is neither 'use' nor 'servicing'", trigger_str);
      return;
    }

  manifest = g_hash_table_lookup (daemon->apps, call->caller->app_id);
  ep = manifest != NULL ? devbg_manifest_find_entry_point (manifest, entry_point) : NULL;
  if (ep == NULL)
    {
      return_new_error (call, DEVBG_ERROR_ENTRY_POINT_NOT_DECLARED,
                        "app %s declares no entry point '%s' in its manifest",
                        call->caller->app_id, entry_point);
      return;
    }
  if ((ep->triggers & (1u << trigger)) == 0)
    {
      return_new_error (call, DEVBG_ERROR_WRONG_TRIGGER_TYPE,
                        "entry point '%s' of app %s is not declared for the %s trigger "
                        "(its manifest declares %s)", entry_point, call->caller->app_id,
                        trigger_str,
                        (ep->triggers & (1u << DEVBG_TRIGGER_USE)) ? "deviceUse" : "deviceServicing");
      return;
    }

  count = devbg_store_count_registrations (daemon->store, call->caller->app_id, &error);
  if (count < 0)
    {
      return_error (call, error);
      return;
    }
  if (count >= daemon->config.max_registrations_per_app)
    {
      return_new_error (call, DEVBG_ERROR_LIMIT_EXCEEDED,
                        "app %s already has %" G_GINT64_FORMAT " registrations, the most "
                        "allowed (MaxRegistrationsPerApp)", call->caller->app_id, count);
      return;
    }

  task_id = g_uuid_string_random ();
  {
    DevbgRegistrationRecord reg = {
      .task_id = task_id,
      .app_id = call->caller->app_id,
      .name = (char *) name,
      .entry_point = (char *) entry_point,
      .trigger = trigger,
      .created_us = g_get_real_time (),
    };
    if (!devbg_store_add_registration (daemon->store, &reg, &error))
      {
        return_error (call, error);
        return;
      }
  }
  g_info ("app %s registered task %s '%s' (%s, %s)", call->caller->app_id, task_id, name,
          entry_point, trigger_str);
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(s)", task_id));
}

static void
handle_list_registrations (Call *call, GVariant *params)
{
  g_autoptr(GPtrArray) regs = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder b;

  (void) params;
  if (!require_app (call))
    return;
  regs = devbg_store_list_registrations (call->daemon->store, call->caller->app_id, &error);
  if (regs == NULL)
    {
      return_error (call, error);
      return;
    }
  g_variant_builder_init (&b, G_VARIANT_TYPE ("a(ssss)"));
  for (guint i = 0; i < regs->len; i++)
    {
      DevbgRegistrationRecord *reg = g_ptr_array_index (regs, i);
      g_variant_builder_add (&b, "(ssss)", reg->task_id, reg->name, reg->entry_point,
                             devbg_trigger_type_to_string (reg->trigger));
    }
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation),
                                         g_variant_new ("(a(ssss))", &b));
}

static void
handle_unregister (Call *call, GVariant *params)
{
  const char *task_id;
  gboolean cancel_task;
  g_autoptr(GError) error = NULL;

  g_variant_get (params, "(&sb)", &task_id, &cancel_task);
  if (!require_app (call) || !check_task_id (call, task_id))
    return;
  if (!devbg_store_remove_registration (call->daemon->store, call->caller->app_id, task_id,
                                        &error))
    {
      return_error (call, error);
      return;
    }
  /* Running instances: the task runtime cancels them (Abort) when
   * cancel_task is true; until it exists there are none to cancel. */
  g_info ("app %s unregistered task %s (cancel_task %s)", call->caller->app_id, task_id,
          cancel_task ? "true" : "false");
  g_dbus_method_invocation_return_value (g_steal_pointer (&call->invocation), NULL);
}

typedef void (*MethodHandler) (Call *call, GVariant *params);

static const struct {
  const char   *name;
  MethodHandler handler;
} methods[] = {
  { "GetStatus", handle_get_status },
  { "Register", handle_register },
  { "ListRegistrations", handle_list_registrations },
  { "Unregister", handle_unregister },
};

/* ---- dispatch: caller credentials first, from the bus ---- */

typedef struct {
  Call         *call;
  MethodHandler handler;
  GVariant     *params;
} PendingCall;

static void
on_credentials (GObject *source, GAsyncResult *res, gpointer user_data)
{
  PendingCall *pending = user_data;
  g_autoptr(Call) call = pending->call;
  g_autoptr(GVariant) params = pending->params;
  MethodHandler handler = pending->handler;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) creds = NULL;
  g_autoptr(GError) error = NULL;
  guint32 pid = 0, uid = G_MAXUINT32;

  g_free (pending);
  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL)
    {
      return_new_error (call, DEVBG_ERROR_FAILED, "cannot read the caller's credentials: %s",
                        error->message);
      return;
    }
  g_variant_get (reply, "(@a{sv})", &creds);
  if (!g_variant_lookup (creds, "ProcessID", "u", &pid) ||
      !g_variant_lookup (creds, "UnixUserID", "u", &uid))
    {
      return_new_error (call, DEVBG_ERROR_FAILED,
                        "the bus did not tell the caller's process and user");
      return;
    }
  call->caller = devbg_identity_resolve (call->daemon->proc_root, (pid_t) pid, (uid_t) uid,
                                         call->daemon->apps);
  g_debug ("%s from %s: pid %u uid %u app %s (%s)",
           g_dbus_method_invocation_get_method_name (call->invocation),
           g_dbus_method_invocation_get_sender (call->invocation), pid, uid,
           call->caller->app_id ? call->caller->app_id : "-", call->caller->detail);
  handler (call, params);
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  DevbgDaemon *daemon = user_data;
  MethodHandler handler = NULL;
  PendingCall *pending;

  (void) path;
  (void) iface;
  for (gsize i = 0; i < G_N_ELEMENTS (methods); i++)
    if (strcmp (methods[i].name, method) == 0)
      handler = methods[i].handler;
  if (handler == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR,
                                             G_DBUS_ERROR_UNKNOWN_METHOD,
                                             "no method %s", method);
      return;
    }

  pending = g_new0 (PendingCall, 1);
  pending->call = g_new0 (Call, 1);
  pending->call->daemon = g_object_ref (daemon);
  pending->call->invocation = g_object_ref (invocation);
  pending->handler = handler;
  pending->params = g_variant_ref (params);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", sender), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_credentials, pending);
}

static GVariant *
on_get_property (GDBusConnection *connection, const char *sender, const char *path,
                 const char *iface, const char *property, GError **error, gpointer user_data)
{
  (void) connection; (void) sender; (void) path; (void) iface; (void) user_data;
  if (strcmp (property, "Version") == 0)
    return g_variant_new_string (PACKAGE_VERSION);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", property);
  return NULL;
}

static const GDBusInterfaceVTable manager_vtable = {
  .method_call = on_method_call,
  .get_property = on_get_property,
};

/* ---- life cycle ---- */

static void
log_problems (GPtrArray *problems, const char *what)
{
  for (guint i = 0; i < problems->len; i++)
    g_warning ("skipped %s: %s", what, (const char *) g_ptr_array_index (problems, i));
}

DevbgDaemon *
devbg_daemon_new (const DevbgDaemonOptions *options, GError **error)
{
  g_autoptr(DevbgDaemon) daemon = g_object_new (DEVBG_TYPE_DAEMON, NULL);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GBytes) xml = NULL;

  daemon->config = options->config;
  daemon->proc_root = g_strdup (options->proc_root ? options->proc_root : "/proc");

  xml = g_resources_lookup_data ("/org/devbg/org.devbg.Devbg1.xml", 0, error);
  if (xml == NULL)
    return NULL;
  daemon->introspection = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), error);
  if (daemon->introspection == NULL)
    return NULL;

  daemon->store = devbg_store_open (options->state_dir, error);
  if (daemon->store == NULL)
    return NULL;

  daemon->apps = devbg_manifests_load ((const char *const *) options->manifest_dirs, problems);
  log_problems (problems, "manifest");
  g_ptr_array_set_size (problems, 0);
  daemon->metadata = devbg_metadata_load ((const char *const *) options->metadata_dirs, problems);
  log_problems (problems, "device metadata");
  g_info ("loaded %u app manifests and %u device metadata files",
          g_hash_table_size (daemon->apps), daemon->metadata->len);
  return g_steal_pointer (&daemon);
}

gboolean
devbg_daemon_export (DevbgDaemon *daemon, GDBusConnection *connection, GError **error)
{
  GDBusInterfaceInfo *iface =
    g_dbus_node_info_lookup_interface (daemon->introspection, DEVBG_MANAGER_IFACE);

  daemon->connection = g_object_ref (connection);
  daemon->registration_id =
    g_dbus_connection_register_object (connection, DEVBG_OBJECT_PATH, iface, &manager_vtable,
                                       daemon, NULL, error);
  return daemon->registration_id != 0;
}

static void
devbg_daemon_dispose (GObject *object)
{
  DevbgDaemon *daemon = DEVBG_DAEMON (object);

  if (daemon->registration_id != 0)
    {
      g_dbus_connection_unregister_object (daemon->connection, daemon->registration_id);
      daemon->registration_id = 0;
    }
  g_clear_object (&daemon->connection);
  g_clear_object (&daemon->store);
  g_clear_pointer (&daemon->apps, g_hash_table_unref);
  g_clear_pointer (&daemon->metadata, g_ptr_array_unref);
  g_clear_pointer (&daemon->introspection, g_dbus_node_info_unref);
  G_OBJECT_CLASS (devbg_daemon_parent_class)->dispose (object);
}

static void
devbg_daemon_finalize (GObject *object)
{
  g_free (DEVBG_DAEMON (object)->proc_root);
  G_OBJECT_CLASS (devbg_daemon_parent_class)->finalize (object);
}

static void
devbg_daemon_class_init (DevbgDaemonClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_daemon_dispose;
  G_OBJECT_CLASS (klass)->finalize = devbg_daemon_finalize;
}

static void
devbg_daemon_init (DevbgDaemon *daemon)
{
  (void) daemon;
}
