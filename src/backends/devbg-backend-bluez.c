/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The BlueZ backend: paired Bluetooth devices, through bluetoothd's D-Bus
 * API only (devbgd never touches HCI). Like Windows' BTHENUM and BTHLE
 * device nodes, each service of a paired device is one DevbgDevice:
 *
 *  - an RFCOMM service (a UUID of Device1.UUIDs that is not one of its GATT
 *    services nor a known L2CAP-only profile): BTHENUM\{uuid}_VID&..._PID&...
 *    Opening it registers a client profile for the UUID (once), asks
 *    Device1.ConnectProfile, and takes the socket BlueZ hands to
 *    Profile1.NewConnection. The task gets one end of a socketpair that
 *    devbgd relays to that socket (two threads, blocking reads and writes):
 *    the relay counts bytes for the I/O liveness policy, which an RFCOMM
 *    socket alone cannot give (the kernel keeps no per-socket totals).
 *  - a primary GATT service (GattService1 below the device):
 *    BTHLE\{uuid}_VID&..._PID&... Opening it gives the task a SOCK_SEQPACKET
 *    channel on which devbgd carries read, write and notify operations on
 *    that service's characteristics only (docs/vendors.md has the format):
 *    the task cannot reach another service, device or app's device, and
 *    every operation is counted.
 *
 * A service is attached while its device is paired, not blocked and
 * connected; disconnection removes it (a use task then ends with
 * ConditionLoss). The address, with the service's UUID, is the stable ID.
 * Where bluetoothd is not on the bus, the backend only watches its name.
 */
#include "devbg-backend.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devbg-error.h"
#include "devbg-relay.h"

#define BLUEZ_NAME         "org.bluez"
#define DEVICE_IFACE       "org.bluez.Device1"
#define SERVICE_IFACE      "org.bluez.GattService1"
#define CHAR_IFACE         "org.bluez.GattCharacteristic1"
#define PROFILE_MGR_IFACE  "org.bluez.ProfileManager1"
#define PROFILE_IFACE      "org.bluez.Profile1"
#define PROFILE_PATH_BASE  "/org/devbg/Devbg1/bluez/profile_"
#define CONNECT_TIMEOUT_MS 30000
#define GATT_HEADER        37 /* op byte + 36-character UUID */
#define GATT_MAX_PACKET    (GATT_HEADER + 1 + 512) /* status byte + a characteristic's longest value */

/* ---- state ---- */

typedef enum { KIND_RFCOMM, KIND_GATT } ServiceKind;

/* One announced service of a device. */
typedef struct {
  DevbgDevice *device;
  ServiceKind  kind;
  char        *device_path; /* BlueZ's object */
  char        *uuid;
  char        *service_path; /* GATT: the GattService1 object */
  guint64     *counter;      /* atomic rc box: bytes relayed or operations carried */
} Entry;

typedef struct _DevbgBackendBluez DevbgBackendBluez;

/* A GATT channel: devbgd's end of a task's SOCK_SEQPACKET pair. */
typedef struct {
  DevbgBackendBluez *self;
  char              *entry_key;
  char              *service_path;
  int                fd;
  guint              source_id;
  guint64           *counter;
  GHashTable        *notifying; /* characteristic paths this channel asked for */
} GattChannel;

struct _DevbgBackendBluez {
  GObject          parent;
  GDBusConnection *connection;
  guint            watch_id;
  guint            added_id, removed_id, props_id;
  char            *owner;       /* bluetoothd's unique name while it runs and is trusted */
  GCancellable    *cancellable; /* for the current bluetoothd */
  GHashTable      *objects;     /* path -> (iface -> a{sv}) */
  GHashTable      *entries;     /* backend key -> Entry */
  GHashTable      *profiles;    /* uuid -> registration ID of our Profile1 object */
  GHashTable      *pending;     /* "devpath\nuuid" -> GTask of an open waiting for NewConnection */
  GPtrArray       *channels;    /* of GattChannel */
  GDBusNodeInfo   *profile_info;
};

#define DEVBG_TYPE_BACKEND_BLUEZ (devbg_backend_bluez_get_type ())
G_DECLARE_FINAL_TYPE (DevbgBackendBluez, devbg_backend_bluez, DEVBG, BACKEND_BLUEZ, GObject)

static void backend_iface_init (DevbgBackendInterface *iface);

G_DEFINE_TYPE_WITH_CODE (DevbgBackendBluez, devbg_backend_bluez, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (DEVBG_TYPE_BACKEND, backend_iface_init))

static void
entry_free (Entry *entry)
{
  g_clear_object (&entry->device);
  g_free (entry->device_path);
  g_free (entry->uuid);
  g_free (entry->service_path);
  if (entry->counter != NULL)
    g_atomic_rc_box_release (entry->counter);
  g_free (entry);
}

/* ---- the object cache ---- */

static GVariant *
lookup_props (DevbgBackendBluez *self, const char *path, const char *iface)
{
  GHashTable *ifaces = g_hash_table_lookup (self->objects, path);

  return ifaces ? g_hash_table_lookup (ifaces, iface) : NULL;
}

static gboolean
prop_bool (GVariant *props, const char *name)
{
  gboolean b = FALSE;

  return props != NULL && g_variant_lookup (props, name, "b", &b) && b;
}

static const char *
prop_str (GVariant *props, const char *name)
{
  const char *s = NULL;

  if (props == NULL || !(g_variant_lookup (props, name, "&s", &s) ||
                         g_variant_lookup (props, name, "&o", &s)))
    return NULL;
  return s;
}

static void
store_iface (DevbgBackendBluez *self, const char *path, const char *iface, GVariant *props)
{
  GHashTable *ifaces = g_hash_table_lookup (self->objects, path);

  if (ifaces == NULL)
    {
      ifaces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_variant_unref);
      g_hash_table_insert (self->objects, g_strdup (path), ifaces);
    }
  g_hash_table_insert (ifaces, g_strdup (iface), g_variant_ref_sink (props));
}

/* ---- which services a device has ---- */

/* Profiles that run over L2CAP, not RFCOMM, and GAP/GATT themselves: not
 * offered as RFCOMM services. BlueZ does not publish the SDP records'
 * protocol lists, so the rest of a device's UUIDs are taken as RFCOMM. */
static gboolean
uuid_is_rfcomm (const char *uuid)
{
  static const char *const not_rfcomm[] = {
    "1800", "1801", "110a", "110b", "110c", "110d", "110e", "110f", "1115", "1116", "1117",
    "1124", "1200", "1303", "1400", "1401", "1402", NULL,
  };

  if (!g_uuid_string_is_valid (uuid))
    return FALSE;
  if (g_str_has_prefix (uuid, "0000") && g_str_has_suffix (uuid, "-0000-1000-8000-00805f9b34fb"))
    for (guint i = 0; not_rfcomm[i] != NULL; i++)
      if (g_ascii_strncasecmp (uuid + 4, not_rfcomm[i], 4) == 0)
        return FALSE;
  return TRUE;
}

/* "bluetooth:v000Fp1200d1436" or "usb:v1D6Bp0246d0537": the Device ID
 * profile's source (0001 Bluetooth SIG, 0002 USB-IF), vendor, product. */
static gboolean
parse_modalias (const char *modalias, guint *source, guint *vid, guint *pid, guint *rev)
{
  const char *rest;

  if (modalias == NULL)
    return FALSE;
  if (g_str_has_prefix (modalias, "bluetooth:"))
    *source = 1, rest = modalias + strlen ("bluetooth:");
  else if (g_str_has_prefix (modalias, "usb:"))
    *source = 2, rest = modalias + strlen ("usb:");
  else
    return FALSE;
  return sscanf (rest, "v%4xp%4xd%4x", vid, pid, rev) == 3;
}

static GStrv
hardware_ids (const char *prefix, const char *uuid, const char *modalias)
{
  GPtrArray *ids = g_ptr_array_new ();
  guint source, vid, pid, rev;

  /* The UUID in lower case, as Windows writes it in BTHENUM IDs; matching
   * is case-blind everywhere in devbg. */
  if (parse_modalias (modalias, &source, &vid, &pid, &rev))
    {
      g_ptr_array_add (ids, g_strdup_printf ("%s\\{%s}_VID&%04X%04X_PID&%04X&REV_%04X", prefix,
                                             uuid, source, vid, pid, rev));
      g_ptr_array_add (ids, g_strdup_printf ("%s\\{%s}_VID&%04X%04X_PID&%04X", prefix, uuid,
                                             source, vid, pid));
    }
  g_ptr_array_add (ids, g_strdup_printf ("%s\\{%s}", prefix, uuid));
  g_ptr_array_add (ids, NULL);
  return (GStrv) g_ptr_array_free (ids, FALSE);
}

/* Who may use a Bluetooth device: bluetoothd's own D-Bus policy lets the
 * "bluetooth" group (and, on desktops, the user at the seat) reach paired
 * devices, so members of that group pass here and anyone else is asked to
 * polkit, whose use-device action grants the user at the seat. */
static void
set_bluetooth_owner (DevbgDevice *device)
{
  struct group *gr = getgrnam ("bluetooth");
  DevbgDeviceOwner owner = { .known = TRUE, .uid = 0, .gid = gr ? gr->gr_gid : 0,
                             .mode = gr ? 0660 : 0600 };

  devbg_device_set_owner (device, &owner);
}

static char *
entry_key (const char *device_path, ServiceKind kind, const char *uuid)
{
  return g_strdup_printf ("%s/%s/%s", device_path, kind == KIND_RFCOMM ? "rfcomm" : "gatt", uuid);
}

static void
fill_device (Entry *entry, GVariant *dev_props)
{
  const char *address = prop_str (dev_props, "Address");
  const char *alias = prop_str (dev_props, "Alias");
  g_auto(GStrv) ids = hardware_ids (entry->kind == KIND_RFCOMM ? "BTHENUM" : "BTHLE",
                                    entry->uuid, prop_str (dev_props, "Modalias"));
  g_autofree char *key = g_strdup_printf ("%s-%s-%s", address ? address : entry->device_path,
                                          entry->kind == KIND_RFCOMM ? "rfcomm" : "gatt",
                                          entry->uuid);
  g_autofree char *container = g_strdup_printf ("bluetooth-%s", address ? address : "");

  devbg_device_set_name (entry->device, alias ? alias : prop_str (dev_props, "Name"));
  devbg_device_set_protocol (entry->device, entry->kind == KIND_RFCOMM
                                              ? DEVBG_PROTOCOL_BLUETOOTH_RFCOMM
                                              : DEVBG_PROTOCOL_BLUETOOTH_GATT);
  devbg_device_set_hardware_ids (entry->device, (const char *const *) ids);
  devbg_device_set_container_id (entry->device, container);
  devbg_device_set_stable_key (entry->device, key);
  set_bluetooth_owner (entry->device);
}

/* The services @device_path should have announced now: key -> Entry
 * (not yet announced). */
static GHashTable *
wanted_services (DevbgBackendBluez *self, const char *device_path)
{
  GHashTable *wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) entry_free);
  GVariant *props = lookup_props (self, device_path, DEVICE_IFACE);
  g_autoptr(GHashTable) gatt_uuids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree const char **uuids = NULL;
  GHashTableIter iter;
  gpointer path, ifaces;

  if (props == NULL || !prop_bool (props, "Paired") || prop_bool (props, "Blocked") ||
      !prop_bool (props, "Connected"))
    return wanted;
  g_hash_table_iter_init (&iter, self->objects);
  while (g_hash_table_iter_next (&iter, &path, &ifaces))
    {
      GVariant *svc = g_hash_table_lookup (ifaces, SERVICE_IFACE);
      const char *uuid = prop_str (svc, "UUID");
      Entry *e;

      if (svc == NULL || g_strcmp0 (prop_str (svc, "Device"), device_path) != 0 ||
          !prop_bool (svc, "Primary") || uuid == NULL || !g_uuid_string_is_valid (uuid))
        continue;
      g_hash_table_add (gatt_uuids, (gpointer) uuid);
      e = g_new0 (Entry, 1);
      e->kind = KIND_GATT;
      e->device_path = g_strdup (device_path);
      e->uuid = g_ascii_strdown (uuid, -1);
      e->service_path = g_strdup (path);
      g_hash_table_replace (wanted, entry_key (device_path, KIND_GATT, e->uuid), e);
    }
  if (g_variant_lookup (props, "UUIDs", "^a&s", &uuids))
    for (guint i = 0; uuids[i] != NULL; i++)
      {
        Entry *e;
        if (!uuid_is_rfcomm (uuids[i]) || g_hash_table_contains (gatt_uuids, uuids[i]))
          continue;
        e = g_new0 (Entry, 1);
        e->kind = KIND_RFCOMM;
        e->device_path = g_strdup (device_path);
        e->uuid = g_ascii_strdown (uuids[i], -1);
        g_hash_table_replace (wanted, entry_key (device_path, KIND_RFCOMM, e->uuid), e);
      }
  return wanted;
}

static void close_channels_of (DevbgBackendBluez *self, const char *key);

static void
remove_entry (DevbgBackendBluez *self, const char *key)
{
  Entry *entry = g_hash_table_lookup (self->entries, key);
  g_autoptr(DevbgDevice) device = NULL;
  g_autofree char *k = g_strdup (key);

  if (entry == NULL)
    return;
  device = g_object_ref (entry->device);
  close_channels_of (self, k);
  g_hash_table_remove (self->entries, k);
  devbg_backend_emit_removed (DEVBG_BACKEND (self), device);
}

/* Brings the announced services of @device_path in line with BlueZ's
 * state: called after every change to the device or its GATT objects. */
static void
sync_device (DevbgBackendBluez *self, const char *device_path)
{
  g_autoptr(GHashTable) wanted = wanted_services (self, device_path);
  GVariant *props = lookup_props (self, device_path, DEVICE_IFACE);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (g_strcmp0 (((Entry *) value)->device_path, device_path) == 0 &&
        !g_hash_table_contains (wanted, key))
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    remove_entry (self, g_ptr_array_index (gone, i));

  g_hash_table_iter_init (&iter, wanted);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Entry *have = g_hash_table_lookup (self->entries, key);
      Entry *want = value;

      if (have != NULL)
        {
          g_autoptr(GVariant) before = devbg_device_to_variant (have->device);
          g_autoptr(GVariant) after = NULL;
          fill_device (have, props);
          after = devbg_device_to_variant (have->device);
          if (!g_variant_equal (before, after))
            devbg_backend_emit_changed (DEVBG_BACKEND (self), have->device);
          continue;
        }
      g_hash_table_iter_steal (&iter);
      want->device = devbg_device_new (DEVBG_BACKEND (self), key);
      want->counter = g_atomic_rc_box_new0 (guint64);
      fill_device (want, props);
      g_hash_table_insert (self->entries, key, want);
      devbg_backend_emit_added (DEVBG_BACKEND (self), want->device);
    }
}

/* The device an object belongs to: itself, or a GATT object's device. */
static char *
device_of (DevbgBackendBluez *self, const char *path)
{
  GHashTable *ifaces = g_hash_table_lookup (self->objects, path);
  const char *s;

  if (ifaces != NULL && g_hash_table_contains (ifaces, DEVICE_IFACE))
    return g_strdup (path);
  if (ifaces != NULL && (s = prop_str (g_hash_table_lookup (ifaces, SERVICE_IFACE), "Device")))
    return g_strdup (s);
  /* A removed object: BlueZ nests services and characteristics below
   * their device's path (/org/bluez/hci0/dev_XX/serviceNNNN). */
  if (g_str_has_prefix (path, "/org/bluez/"))
    {
      g_auto(GStrv) parts = g_strsplit (path, "/", 6);
      if (g_strv_length (parts) >= 5 && g_str_has_prefix (parts[4], "dev_"))
        return g_strjoin ("/", "", parts[1], parts[2], parts[3], parts[4], NULL);
    }
  return NULL;
}

/* ---- GATT channels ---- */

static void gatt_send (GattChannel *ch, char status, char op, const char *uuid,
                       const guint8 *data, gsize len);

static void
channel_free (GattChannel *ch)
{
  g_clear_handle_id (&ch->source_id, g_source_remove);
  if (ch->fd >= 0)
    close (ch->fd);
  g_free (ch->entry_key);
  g_free (ch->service_path);
  g_atomic_rc_box_release (ch->counter);
  g_hash_table_unref (ch->notifying);
  g_free (ch);
}

static void
close_channels_of (DevbgBackendBluez *self, const char *key)
{
  for (guint i = self->channels->len; i > 0; i--)
    {
      GattChannel *ch = g_ptr_array_index (self->channels, i - 1);
      if (key == NULL || g_strcmp0 (ch->entry_key, key) == 0)
        g_ptr_array_remove_index (self->channels, i - 1);
    }
}

/* The characteristic @uuid of the channel's service, or NULL: the only
 * objects a channel reaches. */
static const char *
find_characteristic (DevbgBackendBluez *self, const char *service_path, const char *uuid)
{
  GHashTableIter iter;
  gpointer path, ifaces;

  g_hash_table_iter_init (&iter, self->objects);
  while (g_hash_table_iter_next (&iter, &path, &ifaces))
    {
      GVariant *c = g_hash_table_lookup (ifaces, CHAR_IFACE);
      if (c != NULL && g_strcmp0 (prop_str (c, "Service"), service_path) == 0 &&
          g_ascii_strcasecmp (prop_str (c, "UUID") ? prop_str (c, "UUID") : "", uuid) == 0)
        return path;
    }
  return NULL;
}

typedef struct {
  DevbgBackendBluez *self;
  GattChannel       *ch; /* checked against self->channels before use */
  char               op;
  char               uuid[37];
} GattCall;

static gboolean
channel_alive (DevbgBackendBluez *self, GattChannel *ch)
{
  return self->channels != NULL && g_ptr_array_find (self->channels, ch, NULL);
}

static void
on_gatt_reply (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autofree GattCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  g_autoptr(GVariant) value = NULL;
  const guint8 *data = NULL;
  gsize len = 0;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      !channel_alive (call->self, call->ch))
    return;
  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      gatt_send (call->ch, '!', call->op, call->uuid, (const guint8 *) error->message,
                 strlen (error->message));
      return;
    }
  if (call->op == 'R' && g_variant_is_of_type (reply, G_VARIANT_TYPE ("(ay)")))
    {
      value = g_variant_get_child_value (reply, 0);
      data = g_variant_get_fixed_array (value, &len, 1);
    }
  gatt_send (call->ch, '=', call->op, call->uuid, data, len);
}

static void
gatt_send (GattChannel *ch, char status, char op, const char *uuid, const guint8 *data, gsize len)
{
  g_autofree guint8 *packet = g_malloc (GATT_HEADER + 1 + len);

  packet[0] = status;
  packet[1] = op;
  memcpy (packet + 2, uuid, 36);
  if (len > 0)
    memcpy (packet + 2 + 36, data, len);
  if (send (ch->fd, packet, 2 + 36 + len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
    g_debug ("bluez backend: GATT channel: %s", g_strerror (errno));
  __atomic_add_fetch (ch->counter, 1, __ATOMIC_RELAXED);
}

/* One request: op, the characteristic's UUID (36 characters), data. */
static void
gatt_request (GattChannel *ch, const guint8 *packet, gsize len)
{
  DevbgBackendBluez *self = ch->self;
  GattCall *call;
  const char *char_path;
  GVariant *params;
  const char *method;
  char op = len > 0 ? (char) packet[0] : 0;
  char uuid[37] = "";

  if (len >= GATT_HEADER)
    memcpy (uuid, packet + 1, 36);
  if (len < GATT_HEADER || !g_uuid_string_is_valid (uuid) || strchr ("RWCS", op) == NULL)
    {
      static const char msg[] = "bad request: op R, W, C or S, a 36-character UUID, data";
      gatt_send (ch, '!', op, len >= GATT_HEADER ? uuid : "00000000-0000-0000-0000-000000000000",
                 (const guint8 *) msg, strlen (msg));
      return;
    }
  char_path = find_characteristic (self, ch->service_path, uuid);
  if (char_path == NULL || self->owner == NULL)
    {
      static const char msg[] = "no such characteristic in this service";
      gatt_send (ch, '!', op, uuid, (const guint8 *) msg, strlen (msg));
      return;
    }
  __atomic_add_fetch (ch->counter, 1, __ATOMIC_RELAXED);
  switch (op)
    {
    case 'R':
      method = "ReadValue";
      params = g_variant_new ("(a{sv})", NULL);
      break;
    case 'W':
    case 'C':
      {
        GVariantBuilder opts;
        g_variant_builder_init (&opts, G_VARIANT_TYPE ("a{sv}"));
        g_variant_builder_add (&opts, "{sv}", "type",
                               g_variant_new_string (op == 'W' ? "request" : "command"));
        method = "WriteValue";
        params = g_variant_new ("(@aya{sv})",
                                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, packet + GATT_HEADER,
                                                           len - GATT_HEADER, 1),
                                &opts);
        break;
      }
    default:
      method = "StartNotify";
      params = NULL;
      g_hash_table_add (ch->notifying, g_strdup (char_path));
      break;
    }
  call = g_new0 (GattCall, 1);
  call->self = self;
  call->ch = ch;
  call->op = op;
  memcpy (call->uuid, uuid, sizeof uuid);
  g_dbus_connection_call (self->connection, self->owner, char_path, CHAR_IFACE, method, params,
                          NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_gatt_reply,
                          call);
}

static gboolean
on_gatt_readable (int fd, GIOCondition cond, gpointer user_data)
{
  GattChannel *ch = user_data;
  guint8 packet[GATT_MAX_PACKET];
  ssize_t n = recv (fd, packet, sizeof packet, MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      /* The task closed its end (0 bytes on a seqpacket socket is EOF). */
      ch->source_id = 0;
      g_ptr_array_remove (ch->self->channels, ch);
      return G_SOURCE_REMOVE;
    }
  gatt_request (ch, packet, (gsize) n);
  return G_SOURCE_CONTINUE;
}

/* A notification: BlueZ changes the Value of a characteristic some
 * channel started notifications on. */
static void
gatt_value_changed (DevbgBackendBluez *self, const char *char_path, GVariant *changed)
{
  g_autoptr(GVariant) value = g_variant_lookup_value (changed, "Value", G_VARIANT_TYPE ("ay"));
  GVariant *c = lookup_props (self, char_path, CHAR_IFACE);
  const char *uuid = prop_str (c, "UUID");
  const guint8 *data;
  gsize len;

  if (value == NULL || uuid == NULL || strlen (uuid) != 36)
    return;
  data = g_variant_get_fixed_array (value, &len, 1);
  for (guint i = 0; i < self->channels->len; i++)
    {
      GattChannel *ch = g_ptr_array_index (self->channels, i);
      if (g_hash_table_contains (ch->notifying, char_path))
        gatt_send (ch, '*', 'N', uuid, data, len);
    }
}

static int
open_gatt (DevbgBackendBluez *self, Entry *entry, const char *key, GError **error)
{
  int pair[2];
  GattChannel *ch;

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
    {
      g_set_error (error, DEVBG_ERROR, DEVBG_ERROR_FAILED, "cannot make a GATT channel: %s",
                   g_strerror (errno));
      return -1;
    }
  ch = g_new0 (GattChannel, 1);
  ch->self = self;
  ch->entry_key = g_strdup (key);
  ch->service_path = g_strdup (entry->service_path);
  ch->fd = pair[0];
  ch->counter = g_atomic_rc_box_acquire (entry->counter);
  ch->notifying = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ch->source_id = g_unix_fd_add (pair[0], G_IO_IN | G_IO_HUP | G_IO_ERR, on_gatt_readable, ch);
  g_ptr_array_add (self->channels, ch);
  return pair[1];
}

/* ---- following bluetoothd ---- */

static void
on_interfaces_added (DevbgBackendBluez *self, GVariant *params)
{
  const char *path;
  g_autoptr(GVariantIter) iter = NULL;
  const char *iface;
  GVariant *props;
  g_autofree char *device = NULL;

  g_variant_get (params, "(&oa{sa{sv}})", &path, &iter);
  while (g_variant_iter_next (iter, "{&s@a{sv}}", &iface, &props))
    {
      store_iface (self, path, iface, props);
      g_variant_unref (props);
    }
  device = device_of (self, path);
  if (device != NULL)
    sync_device (self, device);
}

static void
on_interfaces_removed (DevbgBackendBluez *self, GVariant *params)
{
  const char *path;
  g_autofree const char **ifaces = NULL;
  g_autofree char *device = NULL;
  GHashTable *have;

  g_variant_get (params, "(&o^a&s)", &path, &ifaces);
  device = device_of (self, path);
  have = g_hash_table_lookup (self->objects, path);
  for (guint i = 0; have != NULL && ifaces[i] != NULL; i++)
    g_hash_table_remove (have, ifaces[i]);
  if (have != NULL && g_hash_table_size (have) == 0)
    g_hash_table_remove (self->objects, path);
  if (device != NULL)
    sync_device (self, device);
}

static void
on_properties_changed (DevbgBackendBluez *self, const char *path, GVariant *params)
{
  const char *iface;
  g_autoptr(GVariant) changed = NULL;
  g_autofree const char **invalidated = NULL;
  GVariant *old;
  GVariantDict dict;
  g_autofree char *device = NULL;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_get (params, "(&s@a{sv}^a&s)", &iface, &changed, &invalidated);
  old = lookup_props (self, path, iface);
  if (old == NULL)
    return;
  g_variant_dict_init (&dict, old);
  g_variant_iter_init (&iter, changed);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      g_variant_dict_insert_value (&dict, name, value);
      g_variant_unref (value);
    }
  for (guint i = 0; invalidated[i] != NULL; i++)
    g_variant_dict_remove (&dict, invalidated[i]);
  store_iface (self, path, iface, g_variant_dict_end (&dict));
  if (g_str_equal (iface, CHAR_IFACE))
    {
      gatt_value_changed (self, path, changed);
      return;
    }
  device = device_of (self, path);
  if (device != NULL)
    sync_device (self, device);
}

static void
on_bluez_signal (GDBusConnection *connection, const char *sender, const char *path,
                 const char *iface, const char *signal, GVariant *params, gpointer user_data)
{
  DevbgBackendBluez *self = user_data;

  if (self->owner == NULL || g_strcmp0 (sender, self->owner) != 0)
    return;
  if (g_str_equal (signal, "InterfacesAdded") &&
      g_variant_is_of_type (params, G_VARIANT_TYPE ("(oa{sa{sv}})")))
    on_interfaces_added (self, params);
  else if (g_str_equal (signal, "InterfacesRemoved") &&
           g_variant_is_of_type (params, G_VARIANT_TYPE ("(oas)")))
    on_interfaces_removed (self, params);
  else if (g_str_equal (signal, "PropertiesChanged") &&
           g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    on_properties_changed (self, path, params);
}

static void
on_managed_objects (GObject *source, GAsyncResult *res, gpointer user_data)
{
  DevbgBackendBluez *self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  g_autoptr(GVariantIter) iter = NULL;
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func (g_free);
  const char *path;
  GVariant *ifaces;

  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      g_warning ("bluez backend: cannot list bluetoothd's objects: %s", error->message);
      devbg_backend_emit_settled (DEVBG_BACKEND (user_data));
      return;
    }
  self = user_data;
  g_variant_get (reply, "(a{oa{sa{sv}}})", &iter);
  while (g_variant_iter_next (iter, "{&o@a{sa{sv}}}", &path, &ifaces))
    {
      GVariantIter i2;
      const char *iface;
      GVariant *props;

      g_variant_iter_init (&i2, ifaces);
      while (g_variant_iter_next (&i2, "{&s@a{sv}}", &iface, &props))
        {
          store_iface (self, path, iface, props);
          if (g_str_equal (iface, DEVICE_IFACE))
            g_ptr_array_add (devices, g_strdup (path));
          g_variant_unref (props);
        }
      g_variant_unref (ifaces);
    }
  for (guint i = 0; i < devices->len; i++)
    sync_device (self, g_ptr_array_index (devices, i));
  devbg_backend_emit_settled (DEVBG_BACKEND (self));
}

static void
follow_bluez (DevbgBackendBluez *self)
{
  /* Signals first, then the list: nothing falls between the two. */
  self->added_id = g_dbus_connection_signal_subscribe (
    self->connection, self->owner, "org.freedesktop.DBus.ObjectManager", NULL, NULL, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_bluez_signal, self, NULL);
  self->props_id = g_dbus_connection_signal_subscribe (
    self->connection, self->owner, "org.freedesktop.DBus.Properties", "PropertiesChanged", NULL,
    NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_bluez_signal, self, NULL);
  g_dbus_connection_call (self->connection, self->owner, "/", "org.freedesktop.DBus.ObjectManager",
                          "GetManagedObjects", NULL, G_VARIANT_TYPE ("(a{oa{sa{sv}}})"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_managed_objects, self);
}

static void
fail_pending (DevbgBackendBluez *self, const char *why)
{
  GHashTableIter iter;
  gpointer key, task;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, &key, &task))
    {
      g_hash_table_iter_steal (&iter);
      g_free (key);
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE, "%s", why);
      g_object_unref (task);
    }
}

static void
unfollow_bluez (DevbgBackendBluez *self)
{
  GHashTableIter iter;
  gpointer reg;
  g_autoptr(GList) keys = NULL;

  if (self->added_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->added_id);
  if (self->props_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->props_id);
  self->added_id = self->props_id = 0;
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_clear_pointer (&self->owner, g_free);
  fail_pending (self, "bluetoothd left the bus");
  g_hash_table_iter_init (&iter, self->profiles);
  while (g_hash_table_iter_next (&iter, NULL, &reg))
    g_dbus_connection_unregister_object (self->connection, GPOINTER_TO_UINT (reg));
  g_hash_table_remove_all (self->profiles);
  close_channels_of (self, NULL);
  keys = g_hash_table_get_keys (self->entries);
  for (GList *l = keys; l != NULL; l = l->next)
    l->data = g_strdup (l->data);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      remove_entry (self, l->data);
      g_free (l->data);
    }
  g_hash_table_remove_all (self->objects);
}

/* Devices are trusted as devbgd itself: bluetoothd must run as root (or
 * as devbgd's own user), whatever a bus's policy lets own its name. */
static void
on_owner_checked (gpointer user_data, const char *owner, guint32 uid, guint32 pid)
{
  DevbgBackendBluez *self = user_data;

  if (g_strcmp0 (self->owner, owner) != 0)
    return;
  if (uid != 0 && uid != geteuid ())
    {
      g_warning ("bluez backend: ignoring %s, which owns org.bluez as uid %d, not root",
                 owner, uid == G_MAXUINT32 ? -1 : (int) uid);
      g_clear_pointer (&self->owner, g_free);
      devbg_backend_emit_settled (DEVBG_BACKEND (self));
      return;
    }
  follow_bluez (self);
}

static void
on_bluez_appeared (GDBusConnection *connection, const char *name, const char *owner,
                   gpointer user_data)
{
  DevbgBackendBluez *self = user_data;

  g_info ("bluez backend: bluetoothd appeared as %s", owner);
  unfollow_bluez (self);
  self->owner = g_strdup (owner);
  devbg_backend_check_owner (connection, owner, self->cancellable, on_owner_checked, self);
}

static void
on_bluez_vanished (GDBusConnection *connection, const char *name, gpointer user_data)
{
  DevbgBackendBluez *self = user_data;

  if (self->owner != NULL)
    g_info ("bluez backend: bluetoothd left the bus");
  unfollow_bluez (self);
  /* Not there (at the start): nothing to list. */
  devbg_backend_emit_settled (DEVBG_BACKEND (self));
}

/* ---- RFCOMM: our Profile1 object ---- */

static const char profile_xml[] =
  "<node><interface name='org.bluez.Profile1'>"
  "<method name='Release'/>"
  "<method name='NewConnection'><arg type='o' direction='in'/><arg type='h' direction='in'/>"
  "<arg type='a{sv}' direction='in'/></method>"
  "<method name='RequestDisconnection'><arg type='o' direction='in'/></method>"
  "</interface></node>";

static char *
pending_key (const char *device_path, const char *uuid)
{
  return g_strdup_printf ("%s\n%s", device_path, uuid);
}

/* Removes the open waiting under @key; the caller completes it. */
static void
take_pending (DevbgBackendBluez *self, const char *key)
{
  gpointer stolen_key = NULL;

  if (g_hash_table_steal_extended (self->pending, key, &stolen_key, NULL))
    g_free (stolen_key);
}

static void
on_profile_call (GDBusConnection *connection, const char *sender, const char *path,
                 const char *iface, const char *method, GVariant *params,
                 GDBusMethodInvocation *invocation, gpointer user_data)
{
  DevbgBackendBluez *self = user_data;
  GUnixFDList *fds = g_dbus_message_get_unix_fd_list (g_dbus_method_invocation_get_message (invocation));
  g_autoptr(GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *uuid = NULL;
  const char *device_path;
  gint32 handle;
  GTask *task;
  Entry *entry;
  int fd;

  /* Only bluetoothd hands devbgd connections: anyone else could pass a
   * socket of their own for a device's. */
  if (self->owner == NULL || g_strcmp0 (sender, self->owner) != 0)
    {
      g_dbus_method_invocation_return_dbus_error (invocation, "org.bluez.Error.Rejected",
                                                  "only bluetoothd may call this profile");
      return;
    }
  if (!g_str_equal (method, "NewConnection"))
    {
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  g_variant_get (params, "(&oh@a{sv})", &device_path, &handle, NULL);
  uuid = g_strdelimit (g_strdup (path + strlen (PROFILE_PATH_BASE)), "_", '-');
  key = pending_key (device_path, uuid);
  task = g_hash_table_lookup (self->pending, key);
  fd = fds != NULL ? g_unix_fd_list_get (fds, handle, &error) : -1;
  if (task == NULL || fd < 0)
    {
      /* An incoming connection, or one devbgd did not ask for. */
      if (fd >= 0)
        close (fd);
      g_dbus_method_invocation_return_dbus_error (invocation, "org.bluez.Error.Rejected",
                                                  "devbgd did not ask for this connection");
      return;
    }
  take_pending (self, key);
  entry = g_task_get_task_data (task);
  fd = devbg_relay_start (fd, entry->counter, &error);
  if (fd < 0)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_int (task, fd);
  g_object_unref (task);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable profile_vtable = { on_profile_call, NULL, NULL, { 0 } };

/* The profile path carries the UUID with '-' made '_' (object paths
 * allow no '-'); registered once per UUID while bluetoothd runs. */
static gboolean
ensure_profile_object (DevbgBackendBluez *self, const char *uuid, char **path_out, gboolean *is_new,
                       GError **error)
{
  g_autofree char *tail = g_strdelimit (g_strdup (uuid), "-", '_');
  g_autofree char *path = g_strconcat (PROFILE_PATH_BASE, tail, NULL);
  guint id;

  *is_new = FALSE;
  if (!g_hash_table_contains (self->profiles, uuid))
    {
      id = g_dbus_connection_register_object (self->connection, path,
                                              self->profile_info->interfaces[0], &profile_vtable,
                                              self, NULL, error);
      if (id == 0)
        return FALSE;
      g_hash_table_insert (self->profiles, g_strdup (uuid), GUINT_TO_POINTER (id));
      *is_new = TRUE;
    }
  *path_out = g_steal_pointer (&path);
  return TRUE;
}

typedef struct {
  DevbgBackendBluez *self; /* not a reference: a canceled call does not touch it */
  char              *key;
} ConnectCall;

static void
on_connect_profile (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ConnectCall *cc = user_data;
  g_autofree char *key = cc->key;
  DevbgBackendBluez *self = cc->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  GTask *task;

  g_free (cc);
  /* Canceled: the pending opens were failed by whoever canceled. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      (task = g_hash_table_lookup (self->pending, key)) == NULL)
    return; /* NewConnection came first and completed it */
  take_pending (self, key);
  if (error != NULL)
    g_dbus_error_strip_remote_error (error);
  g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                           "bluetoothd did not connect the service: %s",
                           error ? error->message : "no connection came");
  g_object_unref (task);
}

static void
connect_profile (DevbgBackendBluez *self, Entry *entry)
{
  ConnectCall *cc = g_new0 (ConnectCall, 1);

  cc->self = self;
  cc->key = pending_key (entry->device_path, entry->uuid);
  /* Asynchronous: bluetoothd answers only after NewConnection returned. */
  g_dbus_connection_call (self->connection, self->owner, entry->device_path, DEVICE_IFACE,
                          "ConnectProfile", g_variant_new ("(s)", entry->uuid), NULL,
                          G_DBUS_CALL_FLAGS_NONE, CONNECT_TIMEOUT_MS, self->cancellable,
                          on_connect_profile, cc);
}

typedef struct {
  DevbgBackendBluez *self;
  char              *key;
  char              *uuid;
} RegisterCall;

static void
on_register_profile (GObject *source, GAsyncResult *res, gpointer user_data)
{
  RegisterCall *rc = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  DevbgBackendBluez *self = rc->self;
  GTask *task;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      (task = g_hash_table_lookup (self->pending, rc->key)) == NULL)
    goto out;
  if (reply == NULL && !g_dbus_error_is_remote_error (error))
    goto fail;
  if (reply == NULL)
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);
      /* Registered already (by an earlier devbgd on this bluetoothd). */
      if (g_strcmp0 (remote, "org.bluez.Error.AlreadyExists") != 0)
        goto fail;
    }
  connect_profile (self, g_task_get_task_data (task));
  goto out;
fail:
  take_pending (self, rc->key);
  g_dbus_error_strip_remote_error (error);
  g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                           "bluetoothd refused devbgd's profile for %s: %s", rc->uuid,
                           error->message);
  g_object_unref (task);
  g_hash_table_remove (self->profiles, rc->uuid);
out:
  g_free (rc->key);
  g_free (rc->uuid);
  g_free (rc);
}

static void
open_rfcomm (DevbgBackendBluez *self, Entry *entry, GTask *task)
{
  g_autofree char *key = pending_key (entry->device_path, entry->uuid);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder opts;
  gboolean is_new;
  RegisterCall *rc;

  if (g_hash_table_contains (self->pending, key))
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_FAILED,
                               "a connection to %s is being made already", entry->uuid);
      g_object_unref (task);
      return;
    }
  if (!ensure_profile_object (self, entry->uuid, &path, &is_new, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }
  g_hash_table_insert (self->pending, g_strdup (key), task);
  if (!is_new)
    {
      connect_profile (self, entry);
      return;
    }
  g_variant_builder_init (&opts, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&opts, "{sv}", "Name", g_variant_new_string ("devbg"));
  g_variant_builder_add (&opts, "{sv}", "Role", g_variant_new_string ("client"));
  g_variant_builder_add (&opts, "{sv}", "AutoConnect", g_variant_new_boolean (FALSE));
  rc = g_new0 (RegisterCall, 1);
  rc->self = self;
  rc->key = g_strdup (key);
  rc->uuid = g_strdup (entry->uuid);
  g_dbus_connection_call (self->connection, self->owner, "/org/bluez", PROFILE_MGR_IFACE,
                          "RegisterProfile",
                          g_variant_new ("(osa{sv})", path, entry->uuid, &opts), NULL,
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_register_profile, rc);
}

/* ---- the interface ---- */

static const char *
bluez_get_name (DevbgBackend *backend)
{
  return "bluez";
}

static void
bluez_start (DevbgBackend *backend)
{
  DevbgBackendBluez *self = DEVBG_BACKEND_BLUEZ (backend);

  if (self->watch_id == 0)
    self->watch_id = g_bus_watch_name_on_connection (self->connection, BLUEZ_NAME,
                                                     G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                     on_bluez_appeared, on_bluez_vanished,
                                                     self, NULL);
}

static void
bluez_open_async (DevbgBackend *backend, DevbgDevice *device, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  DevbgBackendBluez *self = DEVBG_BACKEND_BLUEZ (backend);
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  const char *key = devbg_device_get_backend_key (device);
  Entry *entry = g_hash_table_lookup (self->entries, key);
  g_autoptr(GError) error = NULL;
  int fd;

  if (self->owner == NULL || entry == NULL || entry->device != device ||
      !devbg_device_get_attached (device))
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                               "Bluetooth service %s is not connected", key);
      g_object_unref (task);
      return;
    }
  if (entry->kind == KIND_RFCOMM)
    {
      /* The entry outlives the task only while announced: the task keeps
       * what it needs. */
      Entry *copy = g_new0 (Entry, 1);
      copy->device = g_object_ref (device);
      copy->device_path = g_strdup (entry->device_path);
      copy->uuid = g_strdup (entry->uuid);
      copy->counter = g_atomic_rc_box_acquire (entry->counter);
      g_task_set_task_data (task, copy, (GDestroyNotify) entry_free);
      open_rfcomm (self, copy, task);
      return;
    }
  fd = open_gatt (self, entry, key, &error);
  if (fd < 0)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_int (task, fd);
  g_object_unref (task);
}

static int
bluez_open_finish (DevbgBackend *backend, GAsyncResult *result, GError **error)
{
  gssize fd = g_task_propagate_int (G_TASK (result), error);

  return fd < 0 ? -1 : (int) fd;
}

static guint64
bluez_get_io_counter (DevbgBackend *backend, DevbgDevice *device)
{
  DevbgBackendBluez *self = DEVBG_BACKEND_BLUEZ (backend);
  Entry *entry = g_hash_table_lookup (self->entries, devbg_device_get_backend_key (device));

  if (entry == NULL || entry->device != device)
    return 0;
  return __atomic_load_n (entry->counter, __ATOMIC_RELAXED);
}

static void
backend_iface_init (DevbgBackendInterface *iface)
{
  iface->get_name = bluez_get_name;
  iface->start = bluez_start;
  iface->open_async = bluez_open_async;
  iface->open_finish = bluez_open_finish;
  iface->get_io_counter = bluez_get_io_counter;
}

DevbgBackend *
devbg_backend_bluez_new (GDBusConnection *connection)
{
  DevbgBackendBluez *self = g_object_new (DEVBG_TYPE_BACKEND_BLUEZ, NULL);

  self->connection = g_object_ref (connection);
  return DEVBG_BACKEND (self);
}

static void
devbg_backend_bluez_dispose (GObject *object)
{
  DevbgBackendBluez *self = DEVBG_BACKEND_BLUEZ (object);

  if (self->connection != NULL)
    {
      g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
      unfollow_bluez (self);
    }
  g_cancellable_cancel (self->cancellable);
  g_clear_pointer (&self->channels, g_ptr_array_unref);
  g_clear_pointer (&self->entries, g_hash_table_unref);
  g_clear_pointer (&self->objects, g_hash_table_unref);
  g_clear_pointer (&self->profiles, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->profile_info, g_dbus_node_info_unref);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (devbg_backend_bluez_parent_class)->dispose (object);
}

static void
devbg_backend_bluez_class_init (DevbgBackendBluezClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_backend_bluez_dispose;
}

static void
devbg_backend_bluez_init (DevbgBackendBluez *self)
{
  self->cancellable = g_cancellable_new ();
  self->objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_hash_table_unref);
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) entry_free);
  self->profiles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->channels = g_ptr_array_new_with_free_func ((GDestroyNotify) channel_free);
  self->profile_info = g_dbus_node_info_new_for_xml (profile_xml, NULL);
}
