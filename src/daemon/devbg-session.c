/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-session"

#include "devbg-session.h"

#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define LOGIND_SESSION "org.freedesktop.login1.Session"

typedef struct {
  char    *path;
  gboolean active;
  gboolean locked;
} Known;

struct _DevbgSession {
  GObject          parent;
  GDBusConnection *connection;
  guint            timeout_ms;
  GHashTable      *known;      /* session ID -> Known */
  GHashTable      *by_path;    /* object path -> session ID (borrowed from known's keys) */
  guint            props_sub;
  guint            removed_sub;
  gboolean         said_absent; /* logged once that logind does not answer */
};

enum { SIGNAL_LOCK_CHANGED, SIGNAL_SESSION_REMOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (DevbgSession, devbg_session, G_TYPE_OBJECT)

void
devbg_session_info_free (DevbgSessionInfo *info)
{
  g_free (info->id);
  g_free (info);
}

static void
known_free (Known *k)
{
  g_free (k->path);
  g_free (k);
}

static void
on_properties_changed (GDBusConnection *connection, const char *sender, const char *path,
                       const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DevbgSession *self = user_data;
  const char *id = g_hash_table_lookup (self->by_path, path);
  g_autoptr(GVariant) changed = NULL;
  Known *k;
  gboolean locked, active;

  (void) connection; (void) sender; (void) iface; (void) signal;
  if (id == NULL || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  k = g_hash_table_lookup (self->known, id);
  changed = g_variant_get_child_value (params, 1);
  if (g_variant_lookup (changed, "Active", "b", &active))
    k->active = active;
  if (g_variant_lookup (changed, "LockedHint", "b", &locked) && locked != k->locked)
    {
      k->locked = locked;
      g_info ("session %s is %s", id, locked ? "locked" : "unlocked");
      g_signal_emit (self, signals[SIGNAL_LOCK_CHANGED], 0, id, locked);
    }
}

static void
on_session_removed (GDBusConnection *connection, const char *sender, const char *path,
                    const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DevbgSession *self = user_data;
  g_autofree char *id = NULL;
  const char *session_path;
  Known *k;

  (void) connection; (void) sender; (void) path; (void) iface; (void) signal;
  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(so)")))
    return;
  g_variant_get (params, "(s&o)", &id, &session_path);
  g_info ("session %s ended", id);
  k = g_hash_table_lookup (self->known, id);
  if (k != NULL)
    {
      g_hash_table_remove (self->by_path, k->path);
      g_hash_table_remove (self->known, id);
    }
  g_signal_emit (self, signals[SIGNAL_SESSION_REMOVED], 0, id);
}

DevbgSession *
devbg_session_new (GDBusConnection *connection, guint timeout_ms)
{
  DevbgSession *self = g_object_new (DEVBG_TYPE_SESSION, NULL);

  self->connection = g_object_ref (connection);
  self->timeout_ms = timeout_ms;
  self->props_sub = g_dbus_connection_signal_subscribe (
    connection, LOGIND_NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", NULL,
    LOGIND_SESSION, G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, self, NULL);
  self->removed_sub = g_dbus_connection_signal_subscribe (
    connection, LOGIND_NAME, LOGIND_MANAGER, "SessionRemoved", LOGIND_PATH, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_session_removed, self, NULL);
  return self;
}

/* ---- lookup ---- */

static DevbgSessionInfo *
no_session (void)
{
  return g_new0 (DevbgSessionInfo, 1);
}

static void
return_no_session (GTask *task, const char *why)
{
  g_debug ("caller in no session: %s", why);
  g_task_return_pointer (task, no_session (), (GDestroyNotify) devbg_session_info_free);
}

static void
remember (DevbgSession *self, const char *path, const DevbgSessionInfo *info)
{
  Known *k = g_new0 (Known, 1);

  k->path = g_strdup (path);
  k->active = info->active;
  k->locked = info->locked;
  g_hash_table_insert (self->known, g_strdup (info->id), k);
  g_hash_table_insert (self->by_path, g_strdup (path), g_strdup (info->id));
}

static void
on_session_props (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DevbgSession *self = g_task_get_source_object (task);
  const char *path = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autoptr(GVariant) props = NULL;
  DevbgSessionInfo *info;
  const char *id;

  if (reply == NULL)
    {
      g_warning ("cannot read logind session %s: %s; the caller is taken to be in no session",
                 path, error->message);
      return_no_session (task, "its session's properties could not be read");
      return;
    }
  props = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (props, "Id", "&s", &id))
    {
      return_no_session (task, "logind's session has no Id");
      return;
    }
  info = no_session ();
  info->id = g_strdup (id);
  g_variant_lookup (props, "Active", "b", &info->active);
  g_variant_lookup (props, "LockedHint", "b", &info->locked);
  /* Followed from now on: lock changes move running tasks' CPU window. */
  remember (self, path, info);
  g_task_return_pointer (task, info, (GDestroyNotify) devbg_session_info_free);
}

static void
on_session_by_pid (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  DevbgSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  const char *path;

  if (reply == NULL)
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);

      if (g_strcmp0 (remote, "org.freedesktop.login1.NoSessionForPID") == 0)
        {
          return_no_session (task, "logind knows no session for its pid");
          return;
        }
      if (!self->said_absent)
        g_warning ("logind does not answer (%s): callers are taken to be in no session, "
                   "so not in the foreground", error->message);
      self->said_absent = TRUE;
      return_no_session (task, error->message);
      return;
    }
  self->said_absent = FALSE;
  g_variant_get (reply, "(&o)", &path);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_dbus_connection_call (self->connection, LOGIND_NAME, path, "org.freedesktop.DBus.Properties",
                          "GetAll", g_variant_new ("(s)", LOGIND_SESSION),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          (int) self->timeout_ms, g_task_get_cancellable (task),
                          on_session_props, g_steal_pointer (&task));
}

void
devbg_session_lookup_async (DevbgSession *self, pid_t pid, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_dbus_connection_call (self->connection, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER,
                          "GetSessionByPID", g_variant_new ("(u)", (guint32) pid),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NO_AUTO_START,
                          (int) self->timeout_ms, cancellable, on_session_by_pid, task);
}

DevbgSessionInfo *
devbg_session_lookup_finish (DevbgSession *self, GAsyncResult *result)
{
  DevbgSessionInfo *info = g_task_propagate_pointer (G_TASK (result), NULL);

  (void) self;
  return info != NULL ? info : no_session ();
}

gboolean
devbg_session_is_locked (DevbgSession *self, const char *id)
{
  Known *k = id != NULL ? g_hash_table_lookup (self->known, id) : NULL;

  return k != NULL && k->locked;
}

static void
devbg_session_dispose (GObject *object)
{
  DevbgSession *self = DEVBG_SESSION (object);

  if (self->connection != NULL)
    {
      g_dbus_connection_signal_unsubscribe (self->connection, self->props_sub);
      g_dbus_connection_signal_unsubscribe (self->connection, self->removed_sub);
    }
  g_clear_object (&self->connection);
  g_clear_pointer (&self->known, g_hash_table_unref);
  g_clear_pointer (&self->by_path, g_hash_table_unref);
  G_OBJECT_CLASS (devbg_session_parent_class)->dispose (object);
}

static void
devbg_session_class_init (DevbgSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_session_dispose;
  signals[SIGNAL_LOCK_CHANGED] =
    g_signal_new ("lock-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[SIGNAL_SESSION_REMOVED] =
    g_signal_new ("session-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
devbg_session_init (DevbgSession *self)
{
  self->known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) known_free);
  self->by_path = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}
