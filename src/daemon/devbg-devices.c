/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-devices"

#include "devbg-devices.h"

#include <gio/gunixfdlist.h>
#include <string.h>
#include <unistd.h>

#include "devbg-daemon.h"
#include "devbg-error.h"
#include "devbg-hwid.h"
#include "devbg-manifest.h"
#include "devbg-metadata.h"
#include "devbg-serialized.h"
#include "devbg-utf8.h"

struct _DevbgDevices {
  GObject          parent;
  GDBusConnection *connection;
  gboolean         allow_open; /* OpenDevice over D-Bus: virtual backend only */
  GPtrArray       *backends;   /* of DevbgBackend */
  GHashTable      *unsettled;  /* the backends whose first listing is not in yet */
  GHashTable      *devices;    /* ID -> DevbgDevice, attached only */
  GDBusNodeInfo   *introspection;
  guint            registration_id;
  /* Who calls is the daemon's to know: it answers ListDevices and
   * GetDevice once the caller is identified (devbg_devices_return_*). */
  DevbgDevicesRouter router;
  gpointer           router_data;
  gsize              max_reply_bytes; /* [Service] MaxReplyBytes, without a router */
};

enum { SIGNAL_ADDED, SIGNAL_REMOVED, SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (DevbgDevices, devbg_devices, G_TYPE_OBJECT)

/* ---- following the backends ---- */

static void
emit_dbus (DevbgDevices *self, const char *signal, DevbgDevice *device, gboolean with_props)
{
  g_autoptr(GVariant) props = NULL;
  GVariant *params;

  if (self->registration_id == 0)
    return;
  if (with_props)
    props = devbg_device_to_variant (device);
  params = with_props
    ? g_variant_new ("(s@a{sv})", devbg_device_get_id (device), props)
    : g_variant_new ("(s)", devbg_device_get_id (device));
  g_dbus_connection_emit_signal (self->connection, NULL, DEVBG_DBUS_PATH, DEVBG_DBUS_DEVICES_INTERFACE,
                                 signal, params, NULL);
}

static void
on_backend_added (DevbgBackend *backend, DevbgDevice *device, gpointer user_data)
{
  DevbgDevices *self = user_data;
  g_autofree char *id = devbg_device_compute_id (device);

  /* Two attachments claiming one serial: keep both, apart. */
  if (g_hash_table_contains (self->devices, id))
    {
      g_autofree char *apart = g_strdup_printf ("%s-%s", id, devbg_device_get_backend_key (device));
      g_warning ("device %s is attached twice; the second is %s", id, apart);
      g_free (id);
      id = g_steal_pointer (&apart);
    }
  devbg_device_set_id (device, id);
  g_hash_table_insert (self->devices, g_strdup (id), g_object_ref (device));
  g_info ("device %s arrived: %s (%s)", id, devbg_device_get_name (device),
          devbg_protocol_to_string (devbg_device_get_protocol (device)));
  g_signal_emit (self, signals[SIGNAL_ADDED], 0, device);
  emit_dbus (self, "DeviceAdded", device, TRUE);
}

static void
on_backend_removed (DevbgBackend *backend, DevbgDevice *device, gpointer user_data)
{
  DevbgDevices *self = user_data;
  const char *id = devbg_device_get_id (device);

  if (id == NULL || g_hash_table_lookup (self->devices, id) != device)
    return;
  g_object_ref (device);
  g_hash_table_remove (self->devices, id);
  g_info ("device %s removed", id);
  /* Marked first, so that every handler sees it gone. */
  devbg_device_mark_removed (device);
  g_signal_emit (self, signals[SIGNAL_REMOVED], 0, device);
  emit_dbus (self, "DeviceRemoved", device, FALSE);
  g_object_unref (device);
}

static void
on_backend_changed (DevbgBackend *backend, DevbgDevice *device, gpointer user_data)
{
  DevbgDevices *self = user_data;
  const char *id = devbg_device_get_id (device);

  if (id == NULL || g_hash_table_lookup (self->devices, id) != device)
    return;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, device);
  emit_dbus (self, "DeviceChanged", device, TRUE);
}

static void
on_backend_settled (DevbgBackend *backend, gpointer user_data)
{
  DevbgDevices *self = user_data;

  if (g_hash_table_remove (self->unsettled, backend))
    g_debug ("%s backend: its devices are in", devbg_backend_get_name (backend));
}

void
devbg_devices_add_backend (DevbgDevices *self, DevbgBackend *backend)
{
  g_ptr_array_add (self->backends, g_object_ref (backend));
  g_hash_table_add (self->unsettled, backend);
  g_signal_connect_object (backend, "settled", G_CALLBACK (on_backend_settled), self, 0);
  g_signal_connect_object (backend, "device-added", G_CALLBACK (on_backend_added), self, 0);
  g_signal_connect_object (backend, "device-removed", G_CALLBACK (on_backend_removed), self, 0);
  g_signal_connect_object (backend, "device-changed", G_CALLBACK (on_backend_changed), self, 0);
  devbg_backend_start (backend);
}

/* ---- the C API ---- */

static gboolean
on_settle_deadline (gpointer data)
{
  *(guint *) data = 0;
  return G_SOURCE_REMOVE;
}

gboolean
devbg_devices_wait_settled (DevbgDevices *self, guint timeout_ms)
{
  /* Wakes the loop at the deadline even when nothing else happens. */
  guint deadline = 0;
  GHashTableIter iter;
  gpointer backend;

  deadline = g_timeout_add (timeout_ms, on_settle_deadline, &deadline);
  while (g_hash_table_size (self->unsettled) > 0 && deadline != 0)
    g_main_context_iteration (NULL, TRUE);
  g_clear_handle_id (&deadline, g_source_remove);
  g_hash_table_iter_init (&iter, self->unsettled);
  while (g_hash_table_iter_next (&iter, &backend, NULL))
    g_warning ("%s backend: its devices were not all in after %u ms; going on without them "
               "(they are added as they come)", devbg_backend_get_name (backend), timeout_ms);
  return g_hash_table_size (self->unsettled) == 0;
}

DevbgDevice *
devbg_devices_lookup (DevbgDevices *self, const char *id)
{
  return g_hash_table_lookup (self->devices, id);
}

static gint
by_id (gconstpointer a, gconstpointer b)
{
  return strcmp (devbg_device_get_id (*(DevbgDevice *const *) a),
                 devbg_device_get_id (*(DevbgDevice *const *) b));
}

GPtrArray *
devbg_devices_list (DevbgDevices *self)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->devices);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, g_object_ref (value));
  g_ptr_array_sort (list, by_id);
  return list;
}

static void
on_opened (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  int fd = devbg_backend_open_finish (DEVBG_BACKEND (source), res, &error);

  if (fd < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, fd);
}

void
devbg_devices_open_async (DevbgDevices *self, DevbgDevice *device, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  devbg_backend_open_async (devbg_device_get_backend (device), device, cancellable, on_opened,
                            task);
}

int
devbg_devices_open_finish (DevbgDevices *self, GAsyncResult *result, GError **error)
{
  gssize fd = g_task_propagate_int (G_TASK (result), error);

  return fd < 0 ? -1 : (int) fd;
}

guint64
devbg_devices_get_io_counter (DevbgDevices *self, DevbgDevice *device)
{
  return devbg_backend_get_io_counter (devbg_device_get_backend (device), device);
}

gboolean
devbg_devices_is_gone (DevbgDevices *self, DevbgDevice *device)
{
  (void) self;
  return devbg_backend_is_gone (devbg_device_get_backend (device), device);
}

/* ---- D-Bus ---- */

static DevbgDevice *
lookup_or_fail (DevbgDevices *self, GVariant *params, GDBusMethodInvocation *invocation)
{
  const char *id;
  DevbgDevice *device;

  g_variant_get (params, "(&s)", &id);
  device = devbg_devices_lookup (self, id);
  if (device == NULL)
    {
      g_autofree char *quoted = devbg_utf8_excerpt (id, 128);

      g_dbus_method_invocation_return_error (invocation, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                                             "no attached device '%s'", quoted);
    }
  return device;
}

/* An app sees the devices its manifest declares (the rule a request's
 * device-not-declared follows), and no other; anyone else sees all. */
static gboolean
visible_to (DevbgDevice *device, const DevbgDevicesViewer *viewer)
{
  if (viewer == NULL || !viewer->is_app)
    return TRUE;
  return viewer->manifest != NULL &&
         devbg_manifest_declares_device (viewer->manifest, devbg_device_get_protocol (device),
                                         devbg_device_get_hardware_ids (device));
}

/* The index of the first device in @list (sorted by ID) whose ID sorts
 * after @after; "" sorts before every ID. */
static guint
first_after (GPtrArray *list, const char *after)
{
  guint low = 0, high = list->len;

  while (low < high)
    {
      guint mid = low + (high - low) / 2;

      if (strcmp (devbg_device_get_id (g_ptr_array_index (list, mid)), after) <= 0)
        low = mid + 1;
      else
        high = mid;
    }
  return low;
}

/* An upper bound of the bytes @id and @props take as one element of an
 * a(sa{sv}): the ID and its NUL, up to 7 bytes of padding before the
 * a{sv} (8-aligned) and 8 of the tuple's offset of the ID's end, then up
 * to 7 bytes of padding before the element and 8 of the array's offset of
 * its end. */
static gsize
entry_size_bound (const char *id, GVariant *props)
{
  return strlen (id) + 1 + 7 + g_variant_get_size (props) + 8 + 7 + 8;
}

void
devbg_devices_return_list (DevbgDevices *self, GDBusMethodInvocation *invocation,
                           const DevbgDevicesViewer *viewer, const char *continuation,
                           gsize max_bytes)
{
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GBytes) bytes = NULL;
  DevbgSerializedWriter page;
  const char *last = "";
  gboolean more = FALSE;
  guint n = 0;
  gsize size = 0;

  if (strlen (continuation) > DEVBG_MAX_DEVICE_ID)
    {
      g_dbus_method_invocation_return_error (invocation, DEVBG_ERROR,
                                             DEVBG_ERROR_INVALID_ARGUMENT,
                                             "continuation of %" G_GSIZE_FORMAT " bytes is longer than a "
                                             "device ID (%d)", strlen (continuation),
                                             DEVBG_MAX_DEVICE_ID);
      return;
    }
  list = devbg_devices_list (self);
  /* Written as GVariant would serialize the a(sa{sv}), from each device's
   * kept a{sv}: no GVariant per device (devbg-serialized.h). */
  devbg_serialized_writer_init (&page);
  for (guint i = first_after (list, continuation); i < list->len; i++)
    {
      DevbgDevice *device = g_ptr_array_index (list, i);
      const char *id = devbg_device_get_id (device);
      g_autoptr(GVariant) props = NULL;
      gsize bound;

      if (!visible_to (device, viewer))
        continue;
      props = devbg_device_to_variant (device);
#if G_BYTE_ORDER == G_BIG_ENDIAN
      {
        GVariant *swapped = g_variant_byteswap (props);

        g_variant_unref (props);
        props = swapped;
      }
#endif
      bound = entry_size_bound (id, props);
      /* The first always goes in, so that every page advances. */
      more = n == DEVBG_DEVICES_PAGE_MAX_ENTRIES || (n > 0 && size + bound > max_bytes);
      if (more)
        break;
      devbg_serialized_writer_add_pair (&page, id, g_variant_get_data (props),
                                        g_variant_get_size (props));
      size += bound;
      last = id;
      n++;
    }
  bytes = devbg_serialized_writer_end (&page);
  g_dbus_method_invocation_return_value (
    invocation, g_variant_new ("(@ays)",
                               g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE),
                               more ? last : ""));
}

void
devbg_devices_return_device (DevbgDevices *self, GDBusMethodInvocation *invocation,
                             const DevbgDevicesViewer *viewer)
{
  GVariant *params = g_dbus_method_invocation_get_parameters (invocation);
  DevbgDevice *device;
  g_autoptr(GVariant) props = NULL;
  GVariantDict dict;
  const char *id;

  g_variant_get (params, "(&s)", &id);
  device = devbg_devices_lookup (self, id);
  if (device != NULL && !visible_to (device, viewer))
    {
      g_dbus_method_invocation_return_error (invocation, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                                             "device '%s' is not one that app %s's manifest "
                                             "declares", id, viewer->app_id);
      return;
    }
  if (device == NULL)
    {
      g_autofree char *quoted = devbg_utf8_excerpt (id, 128);

      g_dbus_method_invocation_return_error (invocation, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                                             "no attached device '%s'", quoted);
      return;
    }
  props = devbg_device_to_variant (device);
  g_variant_dict_init (&dict, props);
  g_variant_dict_insert (&dict, "io-counter", "t", devbg_devices_get_io_counter (self, device));
  g_dbus_method_invocation_return_value (invocation,
                                         g_variant_new ("(@a{sv})", g_variant_dict_end (&dict)));
}

void
devbg_devices_set_router (DevbgDevices *self, DevbgDevicesRouter router, gpointer user_data)
{
  self->router = router;
  self->router_data = user_data;
}

static void
on_open_for_caller (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(GDBusMethodInvocation) invocation = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  int fd = devbg_devices_open_finish (DEVBG_DEVICES (source), res, &error);

  if (fd < 0)
    {
      g_dbus_method_invocation_return_gerror (g_steal_pointer (&invocation), error);
      return;
    }
  /* The list takes its own copy; ours closes here: devbgd keeps no access. */
  g_unix_fd_list_append (fds, fd, &error);
  close (fd);
  if (error != NULL)
    g_dbus_method_invocation_return_gerror (g_steal_pointer (&invocation), error);
  else
    g_dbus_method_invocation_return_value_with_unix_fd_list (g_steal_pointer (&invocation),
                                                             g_variant_new ("(h)", 0), fds);
}

typedef struct {
  DevbgDevices          *self;
  GDBusMethodInvocation *invocation;
} OpenCall;

/* OpenDevice hands out raw device access: root only. */
static void
on_caller_uid (GObject *source, GAsyncResult *res, gpointer user_data)
{
  OpenCall *call = user_data;
  g_autoptr(DevbgDevices) self = call->self;
  g_autoptr(GDBusMethodInvocation) invocation = call->invocation;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, NULL);
  DevbgDevice *device;
  guint32 uid = G_MAXUINT32;

  g_free (call);
  if (reply != NULL)
    g_variant_get (reply, "(u)", &uid);
  if (uid != 0)
    {
      g_dbus_method_invocation_return_error (g_steal_pointer (&invocation), DEVBG_ERROR,
                                             DEVBG_ERROR_ACCESS_DENIED,
                                             "OpenDevice is for root only");
      return;
    }
  device = lookup_or_fail (self, g_dbus_method_invocation_get_parameters (invocation),
                           invocation);
  if (device == NULL)
    {
      invocation = NULL; /* answered, and so consumed */
      return;
    }
  devbg_devices_open_async (self, device, NULL, on_open_for_caller, g_steal_pointer (&invocation));
}

static void
handle_open (DevbgDevices *self, GDBusMethodInvocation *invocation)
{
  OpenCall *call;

  if (!self->allow_open)
    {
      g_dbus_method_invocation_return_error (invocation, DEVBG_ERROR, DEVBG_ERROR_ACCESS_DENIED,
                                             "OpenDevice needs [Service] EnableVirtualBackend=true");
      return;
    }
  call = g_new0 (OpenCall, 1);
  call->self = g_object_ref (self);
  call->invocation = invocation; /* transfer full from GDBus: answering it consumes it */
  g_dbus_connection_call (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", g_dbus_method_invocation_get_sender (invocation)),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          on_caller_uid, call);
}

static void
on_method_call (GDBusConnection *connection, const char *sender, const char *path,
                const char *iface, const char *method, GVariant *params,
                GDBusMethodInvocation *invocation, gpointer user_data)
{
  DevbgDevices *self = user_data;

  if ((g_str_equal (method, "ListDevices") || g_str_equal (method, "GetDevice")) &&
      self->router != NULL)
    self->router (method, invocation, self->router_data);
  else if (g_str_equal (method, "ListDevices"))
    {
      const char *continuation;

      g_variant_get (params, "(&s)", &continuation);
      devbg_devices_return_list (self, invocation, NULL, continuation, self->max_reply_bytes);
    }
  else if (g_str_equal (method, "GetDevice"))
    devbg_devices_return_device (self, invocation, NULL);
  else if (g_str_equal (method, "OpenDevice"))
    handle_open (self, invocation);
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "no method %s", method);
}

static const GDBusInterfaceVTable devices_vtable = { .method_call = on_method_call };

gboolean
devbg_devices_export (DevbgDevices *self, GError **error)
{
  g_autoptr(GBytes) xml = NULL;

  xml = g_resources_lookup_data ("/org/devbg/org.devbg.Devbg1.Devices.xml", 0, error);
  if (xml == NULL)
    return FALSE;
  self->introspection = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), error);
  if (self->introspection == NULL)
    return FALSE;
  self->registration_id = g_dbus_connection_register_object (
    self->connection, DEVBG_DBUS_PATH,
    g_dbus_node_info_lookup_interface (self->introspection, DEVBG_DBUS_DEVICES_INTERFACE),
    &devices_vtable, self, NULL, error);
  return self->registration_id != 0;
}

/* ---- life cycle ---- */

#ifdef HAVE_GUDEV
/* The USB products each metadata file says are one device (a device and
 * its bootloader), for the udev backend's stable IDs. The files' problems
 * are the daemon's to log: it reads them too. */
static GHashTable *
families_from_metadata (const char *const *metadata_dirs)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) all = devbg_metadata_load (metadata_dirs, problems);
  GHashTable *families = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < all->len; i++)
    {
      DevbgMetadata *md = g_ptr_array_index (all, i);
      g_autofree char *family = devbg_hwid_metadata_family (
        md->model_id, md->origin, (const char *const *) md->hardware_ids);

      for (char **id = md->hardware_ids; family != NULL && *id != NULL; id++)
        {
          char *product = devbg_hwid_usb_product (*id);
          if (product != NULL && !g_hash_table_contains (families, product))
            g_hash_table_insert (families, product, g_strdup (family));
          else
            g_free (product);
        }
    }
  return families;
}
#endif

/* The DNS-SD service types that device metadata names by a hardware ID
 * DNSSD\_type._tcp: the network backend browses these only. */
static GStrv
dnssd_types_from_metadata (const char *const *metadata_dirs)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) all = devbg_metadata_load (metadata_dirs, problems);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GPtrArray *types = g_ptr_array_new ();

  for (guint i = 0; i < all->len; i++)
    {
      DevbgMetadata *md = g_ptr_array_index (all, i);
      for (char **id = md->hardware_ids; *id != NULL; id++)
        {
          g_autofree char *type = NULL;
          if (g_ascii_strncasecmp (*id, "DNSSD\\", 6) != 0)
            continue;
          type = g_ascii_strdown (*id + 6, -1);
          /* devbgd connects TCP: "_name._tcp", as DNS-SD spells it. */
          if (type[0] != '_' || !g_str_has_suffix (type, "._tcp") || strlen (type) > 70)
            {
              g_warning ("%s: %s is not a DNS-SD service type over TCP (_name._tcp); "
                         "ignored", md->origin, *id);
              continue;
            }
          if (g_hash_table_add (seen, g_strdup (type)))
            g_ptr_array_add (types, g_steal_pointer (&type));
        }
    }
  g_ptr_array_add (types, NULL);
  return (GStrv) g_ptr_array_free (types, FALSE);
}

static void
add_udev_backend (DevbgDevices *self, const DevbgConfig *config,
                  const char *const *metadata_dirs)
{
#ifdef HAVE_GUDEV
  g_autoptr(DevbgBackend) udev = NULL;
  g_autoptr(GHashTable) families = NULL;

  if (!config->enable_udev_backend)
    return;
  if (!devbg_backend_udev_available ())
    {
      g_info ("udev backend: no sysfs here; only the other backends' devices are served");
      return;
    }
  families = families_from_metadata (metadata_dirs);
  udev = devbg_backend_udev_new (families);
  devbg_devices_add_backend (self, udev);
#else
  (void) metadata_dirs;
  if (config->enable_udev_backend)
    g_debug ("udev backend: devbgd was built without GUdev");
#endif
}

DevbgDevices *
devbg_devices_new (const DevbgConfig *config, GDBusConnection *connection,
                   const char *const *metadata_dirs)
{
  DevbgDevices *self = g_object_new (DEVBG_TYPE_DEVICES, NULL);

  self->connection = g_object_ref (connection);
  self->allow_open = config->enable_virtual_backend;
  self->max_reply_bytes = config->max_reply_bytes;
  if (config->enable_virtual_backend)
    {
      g_autoptr(DevbgBackend) virtual = devbg_backend_virtual_new (connection);
      devbg_devices_add_backend (self, virtual);
    }
  add_udev_backend (self, config, metadata_dirs);
  if (config->enable_bluez_backend)
    {
      g_autoptr(DevbgBackend) bluez = devbg_backend_bluez_new (connection);
      devbg_devices_add_backend (self, bluez);
    }
  if (config->enable_network_backend)
    {
      g_auto(GStrv) types = dnssd_types_from_metadata (metadata_dirs);
      g_autoptr(DevbgBackend) net = devbg_backend_net_new (connection,
                                                           (const char *const *) types);
      devbg_devices_add_backend (self, net);
    }
  return self;
}

static void
devbg_devices_dispose (GObject *object)
{
  DevbgDevices *self = DEVBG_DEVICES (object);

  if (self->registration_id != 0)
    g_dbus_connection_unregister_object (self->connection, self->registration_id);
  self->registration_id = 0;
  g_clear_pointer (&self->unsettled, g_hash_table_unref);
  g_clear_pointer (&self->backends, g_ptr_array_unref);
  g_clear_pointer (&self->devices, g_hash_table_unref);
  g_clear_pointer (&self->introspection, g_dbus_node_info_unref);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (devbg_devices_parent_class)->dispose (object);
}

static void
devbg_devices_class_init (DevbgDevicesClass *klass)
{
  const char *names[N_SIGNALS] = { "device-added", "device-removed", "device-changed" };

  G_OBJECT_CLASS (klass)->dispose = devbg_devices_dispose;
  for (int i = 0; i < N_SIGNALS; i++)
    signals[i] = g_signal_new (names[i], G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                               NULL, NULL, NULL, G_TYPE_NONE, 1, DEVBG_TYPE_DEVICE);
}

static void
devbg_devices_init (DevbgDevices *self)
{
  self->backends = g_ptr_array_new_with_free_func (g_object_unref);
  self->unsettled = g_hash_table_new (NULL, NULL);
  self->devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}
