/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-backend"

#include "devbg-backend.h"

enum { SIGNAL_ADDED, SIGNAL_REMOVED, SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];
static guint settled_signal;

G_DEFINE_INTERFACE (DevbgBackend, devbg_backend, G_TYPE_OBJECT)

static void
devbg_backend_default_init (DevbgBackendInterface *iface)
{
  const char *names[N_SIGNALS] = { "device-added", "device-removed", "device-changed" };

  for (int i = 0; i < N_SIGNALS; i++)
    signals[i] = g_signal_new (names[i], G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0,
                               NULL, NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_DEVICE);
  settled_signal = g_signal_new ("settled", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0,
                                 NULL, NULL, NULL, G_TYPE_NONE, 0);
}

const char *
devbg_backend_get_name (DevbgBackend *backend)
{
  return DEVBG_BACKEND_GET_IFACE (backend)->get_name (backend);
}

void
devbg_backend_start (DevbgBackend *backend)
{
  DEVBG_BACKEND_GET_IFACE (backend)->start (backend);
}

void
devbg_backend_open_async (DevbgBackend *backend, DevbgDevice *device, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  DEVBG_BACKEND_GET_IFACE (backend)->open_async (backend, device, cancellable, callback,
                                                  user_data);
}

int
devbg_backend_open_finish (DevbgBackend *backend, GAsyncResult *result, GError **error)
{
  return DEVBG_BACKEND_GET_IFACE (backend)->open_finish (backend, result, error);
}

guint64
devbg_backend_get_io_counter (DevbgBackend *backend, DevbgDevice *device)
{
  return DEVBG_BACKEND_GET_IFACE (backend)->get_io_counter (backend, device);
}

gboolean
devbg_backend_is_gone (DevbgBackend *backend, DevbgDevice *device)
{
  DevbgBackendInterface *iface = DEVBG_BACKEND_GET_IFACE (backend);

  return iface->is_gone != NULL && iface->is_gone (backend, device);
}

void
devbg_backend_emit_added (DevbgBackend *backend, DevbgDevice *device)
{
  g_signal_emit (backend, signals[SIGNAL_ADDED], 0, device);
}

void
devbg_backend_emit_removed (DevbgBackend *backend, DevbgDevice *device)
{
  g_signal_emit (backend, signals[SIGNAL_REMOVED], 0, device);
}

void
devbg_backend_emit_changed (DevbgBackend *backend, DevbgDevice *device)
{
  g_signal_emit (backend, signals[SIGNAL_CHANGED], 0, device);
}

void
devbg_backend_emit_settled (DevbgBackend *backend)
{
  g_signal_emit (backend, settled_signal, 0);
}

typedef struct {
  DevbgOwnerFunc    done;
  gpointer          user_data; /* not a reference: a canceled call does not touch it */
  char             *owner;
} OwnerCheck;

static void
on_owner_credentials (GObject *source, GAsyncResult *res, gpointer data)
{
  OwnerCheck *check = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  guint32 uid = G_MAXUINT32, pid = G_MAXUINT32;

  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (reply != NULL)
        {
          g_autoptr(GVariant) credentials = g_variant_get_child_value (reply, 0);

          if (!g_variant_lookup (credentials, "UnixUserID", "u", &uid))
            uid = G_MAXUINT32;
          if (!g_variant_lookup (credentials, "ProcessID", "u", &pid))
            pid = G_MAXUINT32;
        }
      check->done (check->user_data, check->owner, uid, pid);
    }
  g_free (check->owner);
  g_free (check);
}

void
devbg_backend_check_owner (GDBusConnection *connection, const char *owner,
                           GCancellable *cancellable, DevbgOwnerFunc done, gpointer user_data)
{
  OwnerCheck *check = g_new0 (OwnerCheck, 1);

  check->done = done;
  check->user_data = user_data;
  check->owner = g_strdup (owner);
  g_dbus_connection_call (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionCredentials",
                          g_variant_new ("(s)", owner), G_VARIANT_TYPE ("(a{sv})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, cancellable, on_owner_credentials, check);
}
