/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The network backend: devices on the local network, found by DNS-SD
 * through avahi-daemon's D-Bus API, for the service types that device
 * metadata names (a hardware ID DNSSD\_type._tcp). A resolved service
 * instance is one device: its hardware ID is DNSSD\<type>, its stable ID
 * the instance name with the type (which a device keeps across reboots),
 * and its protocol network-wifi when the interface it was found on is
 * wireless (sysfs class/net/IF/wireless, or DEVTYPE=wlan), else
 * network-wired. Opening it connects a TCP socket from devbgd to the
 * address and port the service resolved to, and the task gets a stream
 * relayed to that connection (devbg-relay.h): it reaches that device
 * only. Network devices serve servicing tasks only (the seed's table).
 * Where avahi-daemon is not on the bus, the backend only watches its name.
 */
#include "devbg-backend.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <net/if.h>
#include <string.h>
#include <unistd.h>

#include "devbg-error.h"
#include "devbg-relay.h"

#define AVAHI_NAME           "org.freedesktop.Avahi"
#define AVAHI_SERVER_IFACE   "org.freedesktop.Avahi.Server"
#define AVAHI_BROWSER_IFACE  "org.freedesktop.Avahi.ServiceBrowser"
#define AVAHI_IF_UNSPEC      (-1)
#define AVAHI_PROTO_UNSPEC   (-1)
#define CONNECT_TIMEOUT_S    10

typedef struct {
  DevbgDevice *device;
  char        *address;
  guint16      port;
  gint32       ifindex;
  guint64     *counter; /* atomic rc box: bytes relayed */
} NetEntry;

struct _DevbgBackendNet {
  GObject          parent;
  GDBusConnection *connection;
  GStrv            types;     /* DNS-SD service types to browse, lower case */
  guint            watch_id;
  guint            signal_id;
  char            *owner;
  GCancellable    *cancellable; /* for the current avahi-daemon */
  GHashTable      *entries;     /* "name\ttype\tdomain" -> NetEntry */
};

#define DEVBG_TYPE_BACKEND_NET (devbg_backend_net_get_type ())
G_DECLARE_FINAL_TYPE (DevbgBackendNet, devbg_backend_net, DEVBG, BACKEND_NET, GObject)

static void backend_iface_init (DevbgBackendInterface *iface);

G_DEFINE_TYPE_WITH_CODE (DevbgBackendNet, devbg_backend_net, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (DEVBG_TYPE_BACKEND, backend_iface_init))

static void
entry_free (NetEntry *entry)
{
  g_object_unref (entry->device);
  g_atomic_rc_box_release (entry->counter);
  g_free (entry->address);
  g_free (entry);
}

static char *
entry_key (const char *name, const char *type, const char *domain)
{
  return g_strdup_printf ("%s\t%s\t%s", name, type, domain);
}

static gboolean
type_wanted (DevbgBackendNet *self, const char *type)
{
  for (guint i = 0; self->types[i] != NULL; i++)
    if (g_ascii_strcasecmp (self->types[i], type) == 0)
      return TRUE;
  return FALSE;
}

/* ---- wired or Wi-Fi ---- */

static gboolean
interface_is_wireless (gint32 ifindex)
{
  const char *root = g_getenv ("DEVBG_SYSFS_ROOT");
  char name[IF_NAMESIZE];
  g_autofree char *dir = NULL;
  g_autofree char *wireless = NULL;
  g_autofree char *uevent_path = NULL;
  g_autofree char *uevent = NULL;

  if (ifindex < 0 || if_indextoname ((unsigned) ifindex, name) == NULL)
    return FALSE;
  dir = g_build_filename (root != NULL && *root != '\0' ? root : "/sys", "class", "net", name,
                          NULL);
  wireless = g_build_filename (dir, "wireless", NULL);
  if (g_file_test (wireless, G_FILE_TEST_IS_DIR))
    return TRUE;
  uevent_path = g_build_filename (dir, "uevent", NULL);
  return g_file_get_contents (uevent_path, &uevent, NULL, NULL) &&
         (g_str_has_prefix (uevent, "DEVTYPE=wlan\n") || strstr (uevent, "\nDEVTYPE=wlan\n"));
}

/* ---- devices from resolved services ---- */

static void
fill_device (NetEntry *entry, const char *name, const char *type, const char *host)
{
  g_autofree char *upper = g_ascii_strup (type, -1);
  g_autofree char *hwid = g_strdup_printf ("DNSSD\\%s", upper);
  const char *ids[] = { hwid, NULL };
  g_autofree char *key = g_strdup_printf ("%s.%s", name, type);

  devbg_device_set_name (entry->device, name);
  devbg_device_set_protocol (entry->device, interface_is_wireless (entry->ifindex)
                                              ? DEVBG_PROTOCOL_NETWORK_WIFI
                                              : DEVBG_PROTOCOL_NETWORK_WIRED);
  devbg_device_set_hardware_ids (entry->device, ids);
  devbg_device_set_stable_key (entry->device, key);
  devbg_device_set_serial (entry->device, host ? host : "");
}

static void
service_resolved (DevbgBackendNet *self, GVariant *reply)
{
  gint32 ifindex, protocol, aprotocol;
  const char *name, *type, *domain, *host, *address;
  guint16 port;
  guint32 flags;
  g_autofree char *key = NULL;
  NetEntry *entry;

  g_variant_get (reply, "(ii&s&s&s&si&sqaayu)", &ifindex, &protocol, &name, &type, &domain, &host,
                 &aprotocol, &address, &port, NULL, &flags);
  if (!type_wanted (self, type) || !g_hostname_is_ip_address (address))
    return;
  key = entry_key (name, type, domain);
  entry = g_hash_table_lookup (self->entries, key);
  if (entry != NULL)
    {
      /* Resolved again (another address family, or moved): the newest
       * address is where devbgd connects. */
      g_free (entry->address);
      entry->address = g_strdup (address);
      entry->port = port;
      entry->ifindex = ifindex;
      return;
    }
  entry = g_new0 (NetEntry, 1);
  entry->address = g_strdup (address);
  entry->port = port;
  entry->ifindex = ifindex;
  entry->counter = g_atomic_rc_box_new0 (guint64);
  entry->device = devbg_device_new (DEVBG_BACKEND (self), key);
  fill_device (entry, name, type, host);
  g_hash_table_insert (self->entries, g_steal_pointer (&key), entry);
  devbg_backend_emit_added (DEVBG_BACKEND (self), entry->device);
}

typedef struct {
  DevbgBackendNet *self; /* not a reference: a canceled call does not touch it */
} ResolveCall;

typedef struct {
  char    *what;    /* "ADDRESS port N", for messages */
  guint64 *counter; /* the entry's */
} OpenData;

static void
open_data_free (OpenData *data)
{
  g_free (data->what);
  g_atomic_rc_box_release (data->counter);
  g_free (data);
}

static void
on_resolved (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autofree ResolveCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      /* A service that left before it resolved: nothing to serve. */
      g_debug ("network backend: cannot resolve a service: %s", error->message);
      return;
    }
  service_resolved (call->self, reply);
}

static void
item_new (DevbgBackendNet *self, GVariant *params)
{
  gint32 ifindex, protocol;
  const char *name, *type, *domain;
  guint32 flags;
  ResolveCall *call;

  g_variant_get (params, "(ii&s&s&su)", &ifindex, &protocol, &name, &type, &domain, &flags);
  if (!type_wanted (self, type))
    return;
  call = g_new0 (ResolveCall, 1);
  call->self = self;
  g_dbus_connection_call (self->connection, self->owner, "/", AVAHI_SERVER_IFACE,
                          "ResolveService",
                          g_variant_new ("(iisssiu)", ifindex, protocol, name, type, domain,
                                         AVAHI_PROTO_UNSPEC, 0u),
                          G_VARIANT_TYPE ("(iissssisqaayu)"), G_DBUS_CALL_FLAGS_NONE, -1,
                          self->cancellable, on_resolved, call);
}

static void
remove_key (DevbgBackendNet *self, const char *key)
{
  NetEntry *entry = g_hash_table_lookup (self->entries, key);
  g_autoptr(DevbgDevice) device = NULL;

  if (entry == NULL)
    return;
  device = g_object_ref (entry->device);
  g_hash_table_remove (self->entries, key);
  devbg_backend_emit_removed (DEVBG_BACKEND (self), device);
}

static void
item_remove (DevbgBackendNet *self, GVariant *params)
{
  const char *name, *type, *domain;
  g_autofree char *key = NULL;

  g_variant_get (params, "(ii&s&s&su)", NULL, NULL, &name, &type, &domain, NULL);
  key = entry_key (name, type, domain);
  remove_key (self, key);
}

static void
on_avahi_signal (GDBusConnection *connection, const char *sender, const char *path,
                 const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DevbgBackendNet *self = user_data;

  if (self->owner == NULL || g_strcmp0 (sender, self->owner) != 0 ||
      !g_variant_is_of_type (params, G_VARIANT_TYPE ("(iisssu)")))
    return;
  if (g_str_equal (signal, "ItemNew"))
    item_new (self, params);
  else if (g_str_equal (signal, "ItemRemove"))
    item_remove (self, params);
}

static void
on_browser_new (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);

  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("network backend: avahi-daemon does not browse: %s", error->message);
}

static void
follow_avahi (DevbgBackendNet *self)
{
  /* ItemNew can come before ServiceBrowserNew returns the browser's path:
   * signals are taken from any of avahi-daemon's browsers (avahi sends
   * them to the browser's client only) and filtered by type. */
  self->signal_id = g_dbus_connection_signal_subscribe (
    self->connection, self->owner, AVAHI_BROWSER_IFACE, NULL, NULL, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_avahi_signal, self, NULL);
  for (guint i = 0; self->types[i] != NULL; i++)
    g_dbus_connection_call (self->connection, self->owner, "/", AVAHI_SERVER_IFACE,
                            "ServiceBrowserNew",
                            g_variant_new ("(iissu)", AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                           self->types[i], "", 0u),
                            G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1,
                            self->cancellable, on_browser_new, NULL);
}

static void
unfollow_avahi (DevbgBackendNet *self)
{
  g_autoptr(GList) keys = NULL;

  if (self->signal_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->signal_id);
  self->signal_id = 0;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_clear_pointer (&self->owner, g_free);
  keys = g_hash_table_get_keys (self->entries);
  for (GList *l = keys; l != NULL; l = l->next)
    l->data = g_strdup (l->data);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      remove_key (self, l->data);
      g_free (l->data);
    }
}

/* Devices are trusted as devbgd itself: avahi-daemon runs as root or as
 * its own system user, never as a desktop user; a name owned by a
 * login user (uid >= 1000) is ignored. */
static void
on_owner_checked (gpointer user_data, const char *owner, guint32 uid, guint32 pid)
{
  DevbgBackendNet *self = user_data;

  if (g_strcmp0 (self->owner, owner) != 0)
    return;
  if (uid >= 1000 && uid != geteuid ())
    {
      g_warning ("network backend: ignoring %s, which owns org.freedesktop.Avahi as uid %d, "
                 "a user's", owner, uid == G_MAXUINT32 ? -1 : (int) uid);
      g_clear_pointer (&self->owner, g_free);
      return;
    }
  follow_avahi (self);
}

static void
on_avahi_appeared (GDBusConnection *connection, const char *name, const char *owner,
                   gpointer user_data)
{
  DevbgBackendNet *self = user_data;

  g_info ("network backend: avahi-daemon appeared as %s", owner);
  unfollow_avahi (self);
  self->owner = g_strdup (owner);
  devbg_backend_check_owner (connection, owner, self->cancellable, on_owner_checked, self);
}

static void
on_avahi_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgBackendNet *self = user_data;

  if (self->owner != NULL)
    g_info ("network backend: avahi-daemon left the bus");
  unfollow_avahi (self);
}

/* ---- the interface ---- */

static const char *
net_get_name (DevbgBackend *backend)
{
  return "net";
}

static void
net_start (DevbgBackend *backend)
{
  DevbgBackendNet *self = DEVBG_BACKEND_NET (backend);

  if (self->watch_id == 0 && self->types[0] != NULL)
    self->watch_id = g_bus_watch_name_on_connection (self->connection, AVAHI_NAME,
                                                     G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     on_avahi_appeared, on_avahi_vanished,
                                                     self, NULL);
  /* Settled at once: instances answer over the network as they will, and
   * devbgd's start does not wait for the network. */
  devbg_backend_emit_settled (backend);
}

static void
on_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (source),
                                                                      res, &error);
  OpenData *data = g_task_get_task_data (task);
  int fd;

  if (conn == NULL)
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                               "cannot connect to network device %s: %s", data->what,
                               error->message);
      return;
    }
  /* devbgd keeps the connection and relays it: a task holding the TCP
   * socket itself could disconnect it (connect with AF_UNSPEC) and
   * connect it to any host. GIO closes its own descriptor with @conn. */
  fd = fcntl (g_socket_get_fd (g_socket_connection_get_socket (conn)), F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                               "cannot keep the connection: %s", g_strerror (errno));
      return;
    }
  fd = devbg_relay_start (fd, data->counter, &error);
  if (fd < 0)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_int (task, fd);
}

static GSocketAddress *
entry_address (NetEntry *entry)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (entry->address);

  /* A link-local IPv6 address means nothing without its interface. */
  return g_object_new (G_TYPE_INET_SOCKET_ADDRESS, "address", inet, "port", (guint) entry->port,
                       "scope-id", g_inet_address_get_is_link_local (inet) && entry->ifindex > 0
                                     ? (guint) entry->ifindex : 0u,
                       NULL);
}

static void
net_open_async (DevbgBackend *backend, DevbgDevice *device, GCancellable *cancellable,
                GAsyncReadyCallback callback, gpointer user_data)
{
  DevbgBackendNet *self = DEVBG_BACKEND_NET (backend);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  const char *key = devbg_device_get_backend_key (device);
  NetEntry *entry = g_hash_table_lookup (self->entries, key);
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  OpenData *data;

  if (entry == NULL || entry->device != device)
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                               "network device %s is not on the network",
                               devbg_device_get_id (device));
      g_object_unref (task);
      return;
    }
  data = g_new0 (OpenData, 1);
  data->what = g_strdup_printf ("%s port %u", entry->address, entry->port);
  data->counter = g_atomic_rc_box_acquire (entry->counter);
  g_task_set_task_data (task, data, (GDestroyNotify) open_data_free);
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, CONNECT_TIMEOUT_S);
  address = entry_address (entry);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), cancellable,
                                 on_connected, task);
}

static int
net_open_finish (DevbgBackend *backend, GAsyncResult *result, GError **error)
{
  gssize fd = g_task_propagate_int (G_TASK (result), error);

  return fd < 0 ? -1 : (int) fd;
}

/* Servicing only, so no liveness policy reads it; the relay counts anyway. */
static guint64
net_get_io_counter (DevbgBackend *backend, DevbgDevice *device)
{
  DevbgBackendNet *self = DEVBG_BACKEND_NET (backend);
  NetEntry *entry = g_hash_table_lookup (self->entries, devbg_device_get_backend_key (device));

  if (entry == NULL || entry->device != device)
    return 0;
  return __atomic_load_n (entry->counter, __ATOMIC_RELAXED);
}

static void
backend_iface_init (DevbgBackendInterface *iface)
{
  iface->get_name = net_get_name;
  iface->start = net_start;
  iface->open_async = net_open_async;
  iface->open_finish = net_open_finish;
  iface->get_io_counter = net_get_io_counter;
}

DevbgBackend *
devbg_backend_net_new (GDBusConnection *connection, const char *const *service_types)
{
  DevbgBackendNet *self = g_object_new (DEVBG_TYPE_BACKEND_NET, NULL);
  g_autoptr(GPtrArray) types = g_ptr_array_new ();

  self->connection = g_object_ref (connection);
  for (guint i = 0; service_types != NULL && service_types[i] != NULL; i++)
    g_ptr_array_add (types, g_ascii_strdown (service_types[i], -1));
  g_ptr_array_add (types, NULL);
  self->types = (GStrv) g_ptr_array_free (g_steal_pointer (&types), FALSE);
  return DEVBG_BACKEND (self);
}

static void
devbg_backend_net_dispose (GObject *object)
{
  DevbgBackendNet *self = DEVBG_BACKEND_NET (object);

  if (self->connection != NULL)
    {
      g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
      unfollow_avahi (self);
    }
  g_cancellable_cancel (self->cancellable);
  g_clear_pointer (&self->entries, g_hash_table_unref);
  g_clear_pointer (&self->types, g_strfreev);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (devbg_backend_net_parent_class)->dispose (object);
}

static void
devbg_backend_net_class_init (DevbgBackendNetClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_backend_net_dispose;
}

static void
devbg_backend_net_init (DevbgBackendNet *self)
{
  self->cancellable = g_cancellable_new ();
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) entry_free);
}
