/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The virtual backend: devices served by devbg-sim on the bus. It watches
 * the simulator's name and follows its signals, so it sleeps while nothing
 * happens. A device is opened as a real one is, through its node: a
 * connect() to the unix socket the simulator listens on, no message. The
 * I/O counter is a page the simulator shares (a memfd, fetched once when
 * the device arrives), read with a plain load.
 */
#define G_LOG_DOMAIN "devbg-backend-virtual"

#include "devbg-backend.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devbg-error.h"
#include "devbg-names.h"

#define SIM_NAME  DEVBG_SIM_DBUS_SERVICE
#define SIM_PATH  DEVBG_SIM_DBUS_PATH
#define SIM_IFACE DEVBG_SIM_DBUS_INTERFACE

typedef struct {
  DevbgDevice *device;
  guint64     *counter;     /* mapped once OpenCounter answers; NULL before */
  char        *node;        /* the socket an open connects to; NULL if unusable */
  char        *node_problem; /* why the node is unusable, for the open's error */
} SimEntry;

struct _DevbgBackendVirtual {
  GObject          parent;
  GDBusConnection *connection;
  guint            watch_id;
  guint            signal_id;
  char            *owner;   /* the simulator's unique name while it runs */
  pid_t            sim_pid; /* its process, which must serve every node; 0 unknown */
  GCancellable    *cancellable;
  GHashTable      *entries; /* sim device ID -> SimEntry */
};

#define DEVBG_TYPE_BACKEND_VIRTUAL (devbg_backend_virtual_get_type ())
G_DECLARE_FINAL_TYPE (DevbgBackendVirtual, devbg_backend_virtual, DEVBG, BACKEND_VIRTUAL, GObject)

static void backend_iface_init (DevbgBackendInterface *iface);

G_DEFINE_TYPE_WITH_CODE (DevbgBackendVirtual, devbg_backend_virtual, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (DEVBG_TYPE_BACKEND, backend_iface_init))

static void
entry_free (SimEntry *entry)
{
  if (entry->counter != NULL)
    munmap (entry->counter, sizeof (guint64));
  g_object_unref (entry->device);
  g_free (entry->node);
  g_free (entry->node_problem);
  g_free (entry);
}

/* ---- devices from the simulator's properties ---- */

/* A simulated device has no node: devbg-sim may give it an owner, group
 * and mode as a node would have, so that a device the user may not open
 * can be tested. */
static void
apply_owner (DevbgDevice *device, GVariant *props)
{
  DevbgDeviceOwner owner = { 0 };

  if (g_variant_lookup (props, "owner-uid", "u", &owner.uid) &&
      g_variant_lookup (props, "owner-gid", "u", &owner.gid) &&
      g_variant_lookup (props, "mode", "u", &owner.mode))
    {
      owner.known = TRUE;
      owner.mode &= 0777;
    }
  devbg_device_set_owner (device, &owner);
}

static void
apply_properties (DevbgDevice *device, GVariant *props)
{
  const char *s;
  g_autofree const char **ids = NULL;
  DevbgProtocol protocol = DEVBG_PROTOCOL_UNKNOWN;

  if (g_variant_lookup (props, "name", "&s", &s))
    devbg_device_set_name (device, s);
  if (g_variant_lookup (props, "protocol", "&s", &s) && !devbg_protocol_from_string (s, &protocol))
    g_warning ("simulated device %s: unknown protocol '%s'",
               devbg_device_get_backend_key (device), s);
  devbg_device_set_protocol (device, protocol);
  if (g_variant_lookup (props, "hardware-ids", "^a&s", &ids))
    devbg_device_set_hardware_ids (device, ids);
  if (g_variant_lookup (props, "model-id", "&s", &s))
    devbg_device_set_model_id (device, s);
  if (g_variant_lookup (props, "container-id", "&s", &s))
    devbg_device_set_container_id (device, s);
  if (g_variant_lookup (props, "serial", "&s", &s))
    devbg_device_set_serial (device, s);
  if (g_variant_lookup (props, "firmware-version", "&s", &s))
    devbg_device_set_firmware_version (device, s);
  apply_owner (device, props);
}

/* The node comes from the simulator, which is trusted as devbgd itself;
 * it must still be something connect() can take. A device without a
 * usable node stays listed, so that its open fails with the reason. */
static void
apply_node (SimEntry *entry, const char *sim_id, GVariant *props)
{
  const char *node = NULL;
  g_autofree char *problem = NULL;

  if (!g_variant_lookup (props, "node", "&s", &node))
    problem = g_strdup ("the simulator gave it no node");
  else if (!g_path_is_absolute (node))
    problem = g_strdup_printf ("its node '%s' is not an absolute path", node);
  else if (strlen (node) >= sizeof ((struct sockaddr_un *) NULL)->sun_path)
    problem = g_strdup_printf ("its node '%s' is too long for a unix socket (at most %zu bytes)",
                               node, sizeof ((struct sockaddr_un *) NULL)->sun_path - 1);
  if (problem != NULL && g_strcmp0 (problem, entry->node_problem) != 0)
    g_warning ("simulated device %s cannot be opened: %s", sim_id, problem);
  g_free (entry->node);
  entry->node = problem == NULL ? g_strdup (node) : NULL;
  g_free (entry->node_problem);
  entry->node_problem = g_steal_pointer (&problem);
}

static void device_changed (DevbgBackendVirtual *self, const char *sim_id, GVariant *props);
static void fetch_counter (DevbgBackendVirtual *self, const char *sim_id, DevbgDevice *device);

static void
device_arrived (DevbgBackendVirtual *self, const char *sim_id, GVariant *props)
{
  SimEntry *entry = g_hash_table_lookup (self->entries, sim_id);

  /* Seen twice when a signal races the first ListDevices. */
  if (entry != NULL)
    {
      device_changed (self, sim_id, props);
      return;
    }
  entry = g_new0 (SimEntry, 1);
  entry->device = devbg_device_new (DEVBG_BACKEND (self), sim_id);
  apply_properties (entry->device, props);
  apply_node (entry, sim_id, props);
  g_hash_table_insert (self->entries, g_strdup (sim_id), entry);
  fetch_counter (self, sim_id, entry->device);
  devbg_backend_emit_added (DEVBG_BACKEND (self), entry->device);
}

static void
device_left (DevbgBackendVirtual *self, const char *sim_id)
{
  SimEntry *entry = g_hash_table_lookup (self->entries, sim_id);
  g_autoptr(DevbgDevice) device = NULL;

  if (entry == NULL)
    return;
  device = g_object_ref (entry->device);
  g_hash_table_remove (self->entries, sim_id);
  devbg_backend_emit_removed (DEVBG_BACKEND (self), device);
}

static void
device_changed (DevbgBackendVirtual *self, const char *sim_id, GVariant *props)
{
  SimEntry *entry = g_hash_table_lookup (self->entries, sim_id);
  g_autoptr(GVariant) before = NULL;
  g_autoptr(GVariant) after = NULL;

  if (entry == NULL)
    {
      device_arrived (self, sim_id, props);
      return;
    }
  before = devbg_device_to_variant (entry->device);
  apply_properties (entry->device, props);
  apply_node (entry, sim_id, props);
  after = devbg_device_to_variant (entry->device);
  if (!g_variant_equal (before, after))
    devbg_backend_emit_changed (DEVBG_BACKEND (self), entry->device);
}

static void
remove_all (DevbgBackendVirtual *self)
{
  GList *keys = g_hash_table_get_keys (self->entries);

  /* Copies: device_left() frees the keys. */
  for (GList *l = keys; l != NULL; l = l->next)
    l->data = g_strdup (l->data);
  for (GList *l = keys; l != NULL; l = l->next)
    device_left (self, l->data);
  g_list_free_full (keys, g_free);
}

/* ---- following the simulator ---- */

static void
on_sim_signal (GDBusConnection *connection, const char *sender, const char *path,
               const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DevbgBackendVirtual *self = user_data;
  const char *id;
  g_autoptr(GVariant) props = NULL;

  if (g_strcmp0 (sender, self->owner) != 0)
    return;
  if (g_str_equal (signal, "DeviceRemoved") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(s)")))
    {
      g_variant_get (params, "(&s)", &id);
      device_left (self, id);
      return;
    }
  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv})")))
    return;
  g_variant_get (params, "(&s@a{sv})", &id, &props);
  if (g_str_equal (signal, "DeviceAdded"))
    device_arrived (self, id, props);
  else if (g_str_equal (signal, "DeviceChanged"))
    device_changed (self, id, props);
}

static void
on_list_devices (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DevbgBackendVirtual *self;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  g_autoptr(GError) error = NULL;
  const char *id;
  GVariant *props;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("cannot list the simulator's devices: %s", error->message);
      devbg_backend_emit_settled (DEVBG_BACKEND (user_data));
      return;
    }
  self = user_data;
  g_variant_get (reply, "(a(sa{sv}))", &iter);
  while (g_variant_iter_next (iter, "(&s@a{sv})", &id, &props))
    {
      device_arrived (self, id, props);
      g_variant_unref (props);
    }
  devbg_backend_emit_settled (DEVBG_BACKEND (self));
}

static void
follow_sim (DevbgBackendVirtual *self, GDBusConnection *connection, const char *owner)
{
  /* Signals first, then the list: nothing falls between the two. */
  self->signal_id = g_dbus_connection_signal_subscribe (
    connection, owner, SIM_IFACE, NULL, SIM_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
    on_sim_signal, self, NULL);
  g_dbus_connection_call (connection, owner, SIM_PATH, SIM_IFACE, "ListDevices", NULL,
                          G_VARIANT_TYPE ("(a(sa{sv}))"), G_DBUS_CALL_FLAGS_NONE, -1,
                          self->cancellable, on_list_devices, self);
}

/* Devices are trusted as devbgd itself: the simulator must run as root (or
 * as devbgd's own user, for a devbgd run unprivileged), whatever a bus's
 * policy lets own its name. */
static void
on_sim_owner (gpointer user_data, const char *owner, guint32 uid, guint32 pid)
{
  DevbgBackendVirtual *self = user_data;

  if (g_strcmp0 (self->owner, owner) != 0)
    return; /* it left (or another took the name) meanwhile */
  if (uid != 0 && uid != geteuid ())
    {
      g_warning ("virtual backend: ignoring %s, which owns org.devbg.Sim1 as uid %d, not root",
                 owner, uid == G_MAXUINT32 ? -1 : (int) uid);
      g_clear_pointer (&self->owner, g_free);
      devbg_backend_emit_settled (DEVBG_BACKEND (self));
      return;
    }
  self->sim_pid = pid != G_MAXUINT32 ? (pid_t) pid : 0;
  follow_sim (self, self->connection, owner);
}

static void
on_sim_appeared (GDBusConnection *connection, const char *name, const char *owner,
                 gpointer user_data)
{
  DevbgBackendVirtual *self = user_data;

  g_info ("virtual backend: devbg-sim appeared as %s", owner);
  g_free (self->owner);
  self->owner = g_strdup (owner);
  self->sim_pid = 0;
  devbg_backend_check_owner (connection, owner, self->cancellable, on_sim_owner, self);
}

static void
on_sim_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgBackendVirtual *self = user_data;

  if (self->signal_id != 0)
    {
      g_info ("virtual backend: devbg-sim left the bus");
      g_dbus_connection_signal_unsubscribe (connection, self->signal_id);
      self->signal_id = 0;
    }
  g_clear_pointer (&self->owner, g_free);
  remove_all (self);
  /* Not there (at the start): nothing to list. */
  devbg_backend_emit_settled (DEVBG_BACKEND (self));
}

/* ---- the interface ---- */

static const char *
virtual_get_name (DevbgBackend *backend)
{
  return "virtual";
}

static void
virtual_start (DevbgBackend *backend)
{
  DevbgBackendVirtual *self = DEVBG_BACKEND_VIRTUAL (backend);

  if (self->watch_id == 0)
    self->watch_id = g_bus_watch_name_on_connection (self->connection, SIM_NAME,
                                                     G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     on_sim_appeared, on_sim_vanished,
                                                     self, NULL);
}

/* ---- the I/O counter ---- */

typedef struct {
  DevbgBackendVirtual *self;   /* not a reference: the cancellable guards it */
  DevbgDevice         *device; /* the arrival it was asked for */
} CounterRequest;

static void
counter_request_free (CounterRequest *request)
{
  g_object_unref (request->device);
  g_free (request);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CounterRequest, counter_request_free)

/* Keeps the device's counter page, mapped read-only. */
static void
map_counter (const char *sim_id, SimEntry *entry, int fd)
{
  void *page;

  if (entry->counter != NULL)
    return;
  page = mmap (NULL, sizeof (guint64), PROT_READ, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED)
    g_warning ("cannot map the I/O counter of %s: %s", sim_id, g_strerror (errno));
  else
    entry->counter = page;
}

static void
on_open_counter_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(CounterRequest) request = user_data;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *sim_id = devbg_device_get_backend_key (request->device);
  SimEntry *entry;
  int fd = -1;

  reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source), &fds,
                                                           res, &error);
  if (reply == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* the backend is gone */
  entry = g_hash_table_lookup (request->self->entries, sim_id);
  if (entry == NULL || entry->device != request->device)
    return; /* the device left meanwhile: its counter no longer matters */
  if (reply != NULL && fds != NULL && g_unix_fd_list_get_length (fds) == 1)
    fd = g_unix_fd_list_get (fds, 0, &error);
  if (fd < 0)
    {
      if (error != NULL)
        g_dbus_error_strip_remote_error (error);
      /* Only idleness can no longer be seen on this device. */
      g_warning ("cannot get the I/O counter of simulated device %s (it reads 0): %s", sim_id,
                 error != NULL ? error->message : "no fd in the reply");
      return;
    }
  map_counter (sim_id, entry, fd);
  close (fd);
}

/* Once per arrival, off the request path. */
static void
fetch_counter (DevbgBackendVirtual *self, const char *sim_id, DevbgDevice *device)
{
  CounterRequest *request = g_new0 (CounterRequest, 1);

  request->self = self;
  request->device = g_object_ref (device);
  g_dbus_connection_call_with_unix_fd_list (self->connection, self->owner, SIM_PATH, SIM_IFACE,
                                            "OpenCounter", g_variant_new ("(s)", sim_id),
                                            G_VARIANT_TYPE ("(h)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                            NULL, self->cancellable, on_open_counter_reply,
                                            request);
}

/* ---- opening ---- */

/* A connect() to the node, as open() of a real device's node: it completes
 * as soon as the connection is queued on the simulator's listener. Returns
 * the channel, blocking as a device node opened without O_NONBLOCK.
 *
 * devbgd connects as root and hands the connection to a task: whatever
 * socket the path names, only one the simulator itself listens on
 * (@sim_pid, from the bus) is passed on, so that no path (a stale node, a
 * link, a misconfigured --socket-dir) can hand a task a connection that
 * root made to another service's socket. */
static int
connect_node (const char *sim_id, const char *node, pid_t sim_pid, GError **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct ucred peer = { 0 };
  socklen_t peer_size = sizeof peer;
  int fd, saved;

  g_strlcpy (addr.sun_path, node, sizeof addr.sun_path);
  /* Non-blocking while connecting: a simulator whose queue is full makes
   * connect() fail with EAGAIN instead of stalling devbgd's main loop. */
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0 &&
      getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) == 0)
    {
      if (sim_pid <= 0 || peer.pid != sim_pid)
        {
          close (fd);
          g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                       "cannot open simulated device %s: its node %s is served by pid %d, "
                       "not by the simulator (pid %d)", sim_id, node, (int) peer.pid,
                       (int) sim_pid);
          return -1;
        }
      if (g_unix_set_fd_nonblocking (fd, FALSE, NULL))
        return fd;
    }
  saved = errno;
  if (fd >= 0)
    close (fd);
  if (saved == ENOENT || saved == ECONNREFUSED)
    g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                 "simulated device %s is not attached", sim_id);
  else
    g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                 "cannot open simulated device %s: connect to %s: %s", sim_id, node,
                 g_strerror (saved));
  return -1;
}

static void
virtual_open_async (DevbgBackend *backend, DevbgDevice *device, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data)
{
  DevbgBackendVirtual *self = DEVBG_BACKEND_VIRTUAL (backend);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  const char *sim_id = devbg_device_get_backend_key (device);
  SimEntry *entry = g_hash_table_lookup (self->entries, sim_id);
  GError *error = NULL;
  int fd;

  if (self->owner == NULL || !devbg_device_get_attached (device) || entry == NULL ||
      entry->device != device)
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                               "simulated device %s is not attached", sim_id);
      return;
    }
  if (entry->node == NULL)
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                               "cannot open simulated device %s: %s", sim_id,
                               entry->node_problem);
      return;
    }
  /* The fd always comes back, to be closed in open_finish() when the
   * caller canceled meanwhile: GTask's own check would drop it open. */
  g_task_set_check_cancellable (task, FALSE);
  fd = connect_node (sim_id, entry->node, self->sim_pid, &error);
  if (fd < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, fd);
}

static int
virtual_open_finish (DevbgBackend *backend, GAsyncResult *result, GError **error)
{
  gssize fd = g_task_propagate_int (G_TASK (result), error);

  if (fd >= 0 && g_cancellable_set_error_if_cancelled (g_task_get_cancellable (G_TASK (result)),
                                                       error))
    {
      close ((int) fd);
      return -1;
    }
  return fd < 0 ? -1 : (int) fd;
}

static guint64
virtual_get_io_counter (DevbgBackend *backend, DevbgDevice *device)
{
  DevbgBackendVirtual *self = DEVBG_BACKEND_VIRTUAL (backend);
  SimEntry *entry = g_hash_table_lookup (self->entries, devbg_device_get_backend_key (device));

  if (entry == NULL || entry->device != device || entry->counter == NULL)
    return 0;
  return __atomic_load_n (entry->counter, __ATOMIC_RELAXED);
}

/* devbg-sim takes a device's node away as it unplugs it, before it tells
 * of the removal, as the kernel does with a device's sysfs node. */
static gboolean
virtual_is_gone (DevbgBackend *backend, DevbgDevice *device)
{
  DevbgBackendVirtual *self = DEVBG_BACKEND_VIRTUAL (backend);
  SimEntry *entry = g_hash_table_lookup (self->entries, devbg_device_get_backend_key (device));
  struct stat st;

  if (entry == NULL || entry->device != device)
    return TRUE; /* its removal has come */
  if (entry->node == NULL)
    return FALSE;
  return lstat (entry->node, &st) != 0 && errno == ENOENT;
}

static void
backend_iface_init (DevbgBackendInterface *iface)
{
  iface->get_name = virtual_get_name;
  iface->start = virtual_start;
  iface->open_async = virtual_open_async;
  iface->open_finish = virtual_open_finish;
  iface->get_io_counter = virtual_get_io_counter;
  iface->is_gone = virtual_is_gone;
}

DevbgBackend *
devbg_backend_virtual_new (GDBusConnection *connection)
{
  DevbgBackendVirtual *self = g_object_new (DEVBG_TYPE_BACKEND_VIRTUAL, NULL);

  self->connection = g_object_ref (connection);
  return DEVBG_BACKEND (self);
}

static void
devbg_backend_virtual_dispose (GObject *object)
{
  DevbgBackendVirtual *self = DEVBG_BACKEND_VIRTUAL (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  if (self->signal_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->signal_id);
  self->signal_id = 0;
  g_clear_pointer (&self->entries, g_hash_table_unref);
  g_clear_pointer (&self->owner, g_free);
  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (devbg_backend_virtual_parent_class)->dispose (object);
}

static void
devbg_backend_virtual_class_init (DevbgBackendVirtualClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_backend_virtual_dispose;
}

static void
devbg_backend_virtual_init (DevbgBackendVirtual *self)
{
  self->cancellable = g_cancellable_new ();
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) entry_free);
}
