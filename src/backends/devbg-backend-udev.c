/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The udev backend: real USB, HID, serial, MTP and vendor ioctl devices,
 * read from sysfs and followed through uevents with GUdev (DESIGN section
 * 4). What it takes:
 *
 *   usb/usb_device (not hubs)     protocol usb, the usbfs node;
 *                                 protocol mtp when ID_MTP_DEVICE=1
 *   hidraw                        protocol hid, the hidraw node
 *   tty below a USB interface     protocol usb, the tty in raw mode
 *   any node with DEVBG_PROTOCOL  that protocol (a vendor's udev rule or
 *                                 hwdb entry), e.g. generic-ioctl
 *
 * Every function of one physical USB device shares a container ID made
 * from its vendor ID, product (or the vendor's DEVBG_FAMILY) and serial
 * (or port), and each function's stable ID is that identity plus the
 * function, so a device that resets or re-enumerates into its bootloader
 * comes back with the same ID (docs/vendors.md).
 *
 * I/O liveness, sampled by the runtime while a use task runs: the USB
 * device's urbnum (every URB submitted to it, by anyone); for HID and
 * serial nodes, also the inotify access/modify events on the node, read
 * only when sampled, so devbgd is not woken by a chatty device. Nothing
 * here runs on a timer: idle, the backend sleeps on the uevent socket.
 */
#include "devbg-backend.h"

#include <errno.h>
#include <fcntl.h>
#include <gudev/gudev.h>
#include <string.h>
#include <sys/inotify.h>
#include <termios.h>
#include <unistd.h>

#include "devbg-error.h"
#include "devbg-hwid.h"

typedef enum {
  KIND_USB,    /* the usb_device itself: usbfs */
  KIND_HIDRAW,
  KIND_TTY,
  KIND_NODE,   /* a node a vendor's rule marked */
} Kind;

typedef struct {
  DevbgDevice *device;
  Kind         kind;
  char        *syspath;
  char        *node;
  char        *usb_syspath; /* the usb_device behind it, for urbnum; NULL if none */
  int          inotify_fd;  /* -1 until the first open of a HID or serial node */
  guint64      node_events;
} UdevEntry;

struct _DevbgBackendUdev {
  GObject      parent;
  GUdevClient *client;
  GHashTable  *entries;  /* syspath -> UdevEntry */
  GHashTable  *families; /* "USB\VID_xxxx&PID_yyyy" -> family, from metadata; may be NULL */
};

#define DEVBG_TYPE_BACKEND_UDEV (devbg_backend_udev_get_type ())
G_DECLARE_FINAL_TYPE (DevbgBackendUdev, devbg_backend_udev, DEVBG, BACKEND_UDEV, GObject)

static void backend_iface_init (DevbgBackendInterface *iface);

G_DEFINE_TYPE_WITH_CODE (DevbgBackendUdev, devbg_backend_udev, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (DEVBG_TYPE_BACKEND, backend_iface_init))

static void
entry_free (UdevEntry *entry)
{
  if (entry->inotify_fd >= 0)
    close (entry->inotify_fd);
  g_object_unref (entry->device);
  g_free (entry->syspath);
  g_free (entry->node);
  g_free (entry->usb_syspath);
  g_free (entry);
}

/* ---- reading sysfs ---- */

static guint
attr_number (GUdevDevice *d, const char *name, guint base)
{
  const char *v = d != NULL ? g_udev_device_get_sysfs_attr (d, name) : NULL;

  /* sysfs pads some numbers ("%2d" for bNumInterfaces). */
  while (v != NULL && *v == ' ')
    v++;
  return v != NULL ? (guint) g_ascii_strtoull (v, NULL, base) : 0;
}

/* A property of the device or, failing that, of its usb_device (hwdb
 * entries match usb:v*p* and land on the usb_device). */
static const char *
prop (GUdevDevice *d, GUdevDevice *usb, const char *name)
{
  const char *v = g_udev_device_get_property (d, name);

  if ((v == NULL || *v == '\0') && usb != NULL)
    v = g_udev_device_get_property (usb, name);
  return v != NULL && *v != '\0' ? v : NULL;
}

static gboolean
is_usb_device (GUdevDevice *d)
{
  return g_strcmp0 (g_udev_device_get_subsystem (d), "usb") == 0 &&
         g_strcmp0 (g_udev_device_get_devtype (d), "usb_device") == 0;
}

static GUdevDevice *
usb_device_of (GUdevDevice *d)
{
  if (is_usb_device (d))
    return g_object_ref (d);
  return g_udev_device_get_parent_with_subsystem (d, "usb", "usb_device");
}

static GUdevDevice *
usb_interface_of (GUdevDevice *d)
{
  return g_udev_device_get_parent_with_subsystem (d, "usb", "usb_interface");
}

/* The usb_device's numbers, for @intf (NULL: the device itself, whose
 * interface 0 gives the class of a single-function device). */
static void
read_usb_ids (DevbgBackendUdev *self, GUdevDevice *usb, GUdevDevice *intf, DevbgUsbIds *ids)
{
  g_autoptr(GUdevDevice) first = NULL;

  *ids = (DevbgUsbIds) {
    .vid = attr_number (usb, "idVendor", 16),
    .pid = attr_number (usb, "idProduct", 16),
    .rev = attr_number (usb, "bcdDevice", 16),
    .dev_class = attr_number (usb, "bDeviceClass", 16),
    .dev_subclass = attr_number (usb, "bDeviceSubClass", 16),
    .dev_protocol = attr_number (usb, "bDeviceProtocol", 16),
    .num_interfaces = attr_number (usb, "bNumInterfaces", 10),
    .interface_number = -1,
  };
  if (intf == NULL)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s:%u.0", g_udev_device_get_sysfs_path (usb),
                                               g_udev_device_get_name (usb),
                                               attr_number (usb, "bConfigurationValue", 10));
      first = g_udev_client_query_by_sysfs_path (self->client, path);
      intf = first;
    }
  else
    ids->interface_number = (int) attr_number (intf, "bInterfaceNumber", 16);
  ids->if_class = attr_number (intf, "bInterfaceClass", 16);
  ids->if_subclass = attr_number (intf, "bInterfaceSubClass", 16);
  ids->if_protocol = attr_number (intf, "bInterfaceProtocol", 16);
}

/* The first top-level usage of a hidraw's HID device, from its binary
 * report descriptor (sysfs attributes read as strings stop at a 0 byte). */
static gboolean
read_hid_usage (GUdevDevice *hid, guint16 *page, guint16 *usage)
{
  g_autofree char *path = g_build_filename (g_udev_device_get_sysfs_path (hid),
                                            "report_descriptor", NULL);
  g_autofree char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL))
    return FALSE;
  return devbg_hwid_hid_top_usage ((const guint8 *) data, len, page, usage);
}

/* ---- what a uevent's device is to devbg ---- */

static gboolean
classify (GUdevDevice *d, Kind *kind, DevbgProtocol *protocol)
{
  const char *subsystem = g_udev_device_get_subsystem (d);
  const char *marked = g_udev_device_get_property (d, "DEVBG_PROTOCOL");

  if (g_udev_device_get_device_file (d) == NULL)
    return FALSE;
  if (marked != NULL && *marked != '\0')
    {
      if (g_str_equal (marked, "ignore"))
        return FALSE;
      if (!devbg_protocol_from_string (marked, protocol) || *protocol == DEVBG_PROTOCOL_UNKNOWN)
        {
          g_warning ("udev backend: %s: unknown DEVBG_PROTOCOL '%s'; ignoring the device",
                     g_udev_device_get_sysfs_path (d), marked);
          return FALSE;
        }
      *kind = g_strcmp0 (subsystem, "tty") == 0 ? KIND_TTY
            : g_strcmp0 (subsystem, "hidraw") == 0 ? KIND_HIDRAW
            : is_usb_device (d) ? KIND_USB : KIND_NODE;
      return TRUE;
    }
  if (is_usb_device (d))
    {
      /* Hubs (root hubs included) are the bus, not a device of an app. */
      if (attr_number (d, "bDeviceClass", 16) == 0x09)
        return FALSE;
      *kind = KIND_USB;
      *protocol = g_strcmp0 (g_udev_device_get_property (d, "ID_MTP_DEVICE"), "1") == 0
                    ? DEVBG_PROTOCOL_MTP : DEVBG_PROTOCOL_USB;
      return TRUE;
    }
  if (g_strcmp0 (subsystem, "hidraw") == 0)
    {
      *kind = KIND_HIDRAW;
      *protocol = DEVBG_PROTOCOL_HID;
      return TRUE;
    }
  if (g_strcmp0 (subsystem, "tty") == 0)
    {
      /* A serial port of a USB function (CDC-ACM, USB-serial). On-board
       * UARTs are left to a rule: the kernel has ttyS placeholders for
       * ports with no hardware behind them. */
      g_autoptr(GUdevDevice) intf = usb_interface_of (d);
      if (intf == NULL)
        return FALSE;
      *kind = KIND_TTY;
      *protocol = DEVBG_PROTOCOL_USB;
      return TRUE;
    }
  return FALSE;
}

/* The vendor's own IDs (DEVBG_HARDWARE_IDS, ;-separated) come first: a
 * rule or hwdb entry names what the bus cannot. */
static GStrv
with_vendor_ids (GUdevDevice *d, GUdevDevice *usb, GStrv ids)
{
  const char *extra = prop (d, usb, "DEVBG_HARDWARE_IDS");
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) split = NULL;

  if (extra == NULL)
    return ids;
  split = g_strsplit (extra, ";", -1);
  for (char **s = split; *s != NULL; s++)
    if (**s != '\0')
      g_strv_builder_add (b, g_strstrip (*s));
  g_strv_builder_addv (b, (const char **) ids);
  g_strfreev (ids);
  return g_strv_builder_end (b);
}

static GStrv
hardware_ids (DevbgBackendUdev *self, GUdevDevice *d, Kind kind, DevbgProtocol protocol,
              GUdevDevice *usb, GUdevDevice *intf)
{
  DevbgUsbIds usb_ids;

  if (kind == KIND_HIDRAW)
    {
      g_autoptr(GUdevDevice) hid = g_udev_device_get_parent_with_subsystem (d, "hid", NULL);
      DevbgHidIds h = { .interface_number = -1 };
      guint16 bus;

      if (hid == NULL || !devbg_hwid_parse_hid_id (g_udev_device_get_name (hid), &bus, &h.vid, &h.pid))
        return g_new0 (char *, 1);
      h.have_usage = read_hid_usage (hid, &h.usage_page, &h.usage);
      if (usb != NULL)
        {
          read_usb_ids (self, usb, intf, &usb_ids);
          h.have_rev = TRUE;
          h.rev = usb_ids.rev;
          if (intf != NULL && usb_ids.num_interfaces > 1)
            h.interface_number = usb_ids.interface_number;
        }
      return devbg_hwid_hid (&h);
    }
  if (usb == NULL)
    return g_new0 (char *, 1);
  read_usb_ids (self, usb, kind == KIND_USB ? NULL : intf, &usb_ids);
  return protocol == DEVBG_PROTOCOL_MTP ? devbg_hwid_mtp (&usb_ids) : devbg_hwid_usb (&usb_ids);
}

/* Off USB (a Bluetooth or I2C HID, a node a rule marked) the kernel's
 * name is all there is, but for a HID device with a unique ID (a Bluetooth
 * address), which survives a reconnection. */
static char *
off_usb_name (GUdevDevice *d)
{
  g_autoptr(GUdevDevice) hid = g_udev_device_get_parent_with_subsystem (d, "hid", NULL);
  const char *uniq = hid != NULL ? g_udev_device_get_property (hid, "HID_UNIQ") : NULL;
  guint16 bus, vid, pid;

  if (uniq != NULL && *uniq != '\0' &&
      devbg_hwid_parse_hid_id (g_udev_device_get_name (hid), &bus, &vid, &pid))
    return g_strdup_printf ("hid-%04X-%04X-%s", vid, pid, uniq);
  return g_strconcat (g_udev_device_get_subsystem (d), "-", g_udev_device_get_name (d), NULL);
}

/* Which function of the physical device this is, in its stable ID. */
static char *
function_name (GUdevDevice *d, Kind kind, GUdevDevice *usb, GUdevDevice *intf)
{
  g_autofree char *ifpart = intf != NULL
    ? g_strdup_printf ("%02X", attr_number (intf, "bInterfaceNumber", 16)) : g_strdup ("");

  if (usb == NULL)
    return off_usb_name (d);
  switch (kind)
    {
    case KIND_USB: return g_strdup ("usb");
    case KIND_HIDRAW: return g_strconcat ("hid", ifpart, NULL);
    case KIND_TTY: return g_strconcat ("tty", ifpart, NULL);
    case KIND_NODE:
    default: return g_strconcat (g_udev_device_get_subsystem (d), ifpart, NULL);
    }
}

static char *
device_name (GUdevDevice *d, GUdevDevice *usb, Kind kind)
{
  const char *product = usb != NULL ? g_udev_device_get_sysfs_attr (usb, "product") : NULL;
  const char *base;

  if (product == NULL)
    product = prop (d, usb, "ID_MODEL_FROM_DATABASE");
  if (product == NULL)
    product = prop (d, usb, "ID_MODEL");
  base = product != NULL ? product : g_udev_device_get_name (d);
  switch (kind)
    {
    case KIND_HIDRAW: return g_strdup_printf ("%s (HID)", base);
    case KIND_TTY: return g_strdup_printf ("%s (serial)", base);
    default: return g_strdup (base);
    }
}

/* The vendor's name for the set of product IDs this device is one of:
 * their udev rule or hwdb entry, else their metadata. */
static const char *
family_of (DevbgBackendUdev *self, GUdevDevice *d, GUdevDevice *usb)
{
  const char *family = prop (d, usb, "DEVBG_FAMILY");
  g_autofree char *product = NULL;

  if (family != NULL || self->families == NULL)
    return family;
  product = g_strdup_printf ("USB\\VID_%04X&PID_%04X", attr_number (usb, "idVendor", 16),
                             attr_number (usb, "idProduct", 16));
  return g_hash_table_lookup (self->families, product);
}

static void
describe (DevbgBackendUdev *self, UdevEntry *entry, GUdevDevice *d, DevbgProtocol protocol)
{
  DevbgDevice *device = entry->device;
  g_autoptr(GUdevDevice) usb = usb_device_of (d);
  g_autoptr(GUdevDevice) intf = entry->kind == KIND_USB ? NULL : usb_interface_of (d);
  g_auto(GStrv) ids = with_vendor_ids (d, usb, hardware_ids (self, d, entry->kind, protocol, usb,
                                                             intf));
  g_autofree char *name = device_name (d, usb, entry->kind);
  g_autofree char *function = function_name (d, entry->kind, usb, intf);
  g_autofree char *identity = NULL;
  g_autofree char *container = NULL;
  g_autofree char *key = NULL;
  g_autofree char *valid_name = NULL;
  g_autofree char *valid_serial = NULL;
  const char *serial = usb != NULL ? g_udev_device_get_sysfs_attr (usb, "serial") : NULL;
  const char *version = prop (d, usb, "DEVBG_FIRMWARE_VERSION");
  const char *model = prop (d, usb, "DEVBG_MODEL_ID");

  if (usb != NULL)
    {
      guint rev = attr_number (usb, "bcdDevice", 16);
      g_autofree char *bcd = g_strdup_printf ("%x.%02x", rev >> 8, rev & 0xFF);
      identity = devbg_hwid_usb_identity (attr_number (usb, "idVendor", 16),
                                          attr_number (usb, "idProduct", 16),
                                          family_of (self, d, usb), serial,
                                          g_udev_device_get_name (usb));
      container = devbg_hwid_container_id (identity);
      devbg_device_set_firmware_version (device, version != NULL ? version : bcd);
      g_free (entry->usb_syspath);
      entry->usb_syspath = g_strdup (g_udev_device_get_sysfs_path (usb));
    }
  else
    {
      /* Off USB: a vendor's node or a Bluetooth/I2C HID; its path is all
       * that names it. */
      identity = g_strdup (g_udev_device_get_sysfs_path (d));
      container = devbg_hwid_container_id (identity);
      if (version != NULL)
        devbg_device_set_firmware_version (device, version);
    }
  key = usb != NULL ? g_strdup_printf ("%s-%s", identity, function) : g_strdup (function);
  /* What a device says of itself goes out in D-Bus strings: valid UTF-8
   * only (the kernel converts USB strings, a rule's text is anyone's). */
  valid_name = g_utf8_make_valid (name, -1);
  valid_serial = g_utf8_make_valid (serial != NULL ? serial : "", -1);
  devbg_device_set_name (device, valid_name);
  devbg_device_set_protocol (device, protocol);
  devbg_device_set_hardware_ids (device, (const char *const *) ids);
  devbg_device_set_container_id (device, container);
  devbg_device_set_serial (device, valid_serial);
  devbg_device_set_model_id (device, model != NULL ? model : "");
  devbg_device_set_stable_key (device, key);
  devbg_device_set_node (device, entry->node);
}

/* ---- arrivals, changes, removals ---- */

static void
remove_entry (DevbgBackendUdev *self, const char *syspath)
{
  UdevEntry *entry = g_hash_table_lookup (self->entries, syspath);
  g_autoptr(DevbgDevice) device = NULL;

  if (entry == NULL)
    return;
  device = g_object_ref (entry->device);
  g_hash_table_remove (self->entries, syspath);
  devbg_backend_emit_removed (DEVBG_BACKEND (self), device);
}

/* A parent's removal takes its functions with it, whether or not their
 * own remove events come (umockdev sends none for children). */
static void
remove_below (DevbgBackendUdev *self, const char *syspath)
{
  g_autofree char *prefix = g_strconcat (syspath, "/", NULL);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (g_str_has_prefix (key, prefix))
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    remove_entry (self, g_ptr_array_index (gone, i));
  remove_entry (self, syspath);
}

static void
consider (DevbgBackendUdev *self, GUdevDevice *d)
{
  const char *syspath = g_udev_device_get_sysfs_path (d);
  UdevEntry *entry = g_hash_table_lookup (self->entries, syspath);
  DevbgProtocol protocol = DEVBG_PROTOCOL_UNKNOWN;
  Kind kind;

  if (!classify (d, &kind, &protocol))
    {
      remove_entry (self, syspath); /* a rule now marks it "ignore" */
      return;
    }
  if (entry != NULL)
    {
      g_autoptr(GVariant) before = devbg_device_to_variant (entry->device);
      g_autoptr(GVariant) after = NULL;
      g_autofree char *old_id = devbg_device_compute_id (entry->device);
      g_autofree char *new_id = NULL;

      describe (self, entry, d, protocol);
      new_id = devbg_device_compute_id (entry->device);
      if (g_strcmp0 (old_id, new_id) != 0)
        {
          /* It is another device to devbg now (a rule gave it a family):
           * gone, and arrived under its new ID. */
          remove_entry (self, syspath);
          consider (self, d);
          return;
        }
      after = devbg_device_to_variant (entry->device);
      if (!g_variant_equal (before, after))
        devbg_backend_emit_changed (DEVBG_BACKEND (self), entry->device);
      return;
    }
  entry = g_new0 (UdevEntry, 1);
  entry->kind = kind;
  entry->inotify_fd = -1;
  entry->syspath = g_strdup (syspath);
  entry->node = g_strdup (g_udev_device_get_device_file (d));
  entry->device = devbg_device_new (DEVBG_BACKEND (self), syspath);
  describe (self, entry, d, protocol);
  g_hash_table_insert (self->entries, g_strdup (syspath), entry);
  devbg_backend_emit_added (DEVBG_BACKEND (self), entry->device);
}

static void
on_uevent (GUdevClient *client, const char *action, GUdevDevice *d, gpointer user_data)
{
  DevbgBackendUdev *self = user_data;

  if (g_strcmp0 (action, "remove") == 0)
    remove_below (self, g_udev_device_get_sysfs_path (d));
  else if (g_strcmp0 (action, "add") == 0 || g_strcmp0 (action, "change") == 0 ||
           g_strcmp0 (action, "bind") == 0 || g_strcmp0 (action, "move") == 0)
    consider (self, d);
}

static void
enumerate (DevbgBackendUdev *self, const char *subsystem)
{
  GList *list = g_udev_client_query_by_subsystem (self->client, subsystem);

  for (GList *l = list; l != NULL; l = l->next)
    consider (self, l->data);
  g_list_free_full (list, g_object_unref);
}

static void
enumerate_marked (DevbgBackendUdev *self)
{
  g_autoptr(GUdevEnumerator) e = g_udev_enumerator_new (self->client);
  GList *list;

  g_udev_enumerator_add_match_property (e, "DEVBG_PROTOCOL", "*");
  list = g_udev_enumerator_execute (e);
  for (GList *l = list; l != NULL; l = l->next)
    consider (self, l->data);
  g_list_free_full (list, g_object_unref);
}

/* ---- the interface ---- */

static const char *
udev_get_name (DevbgBackend *backend)
{
  return "udev";
}

static void
udev_start (DevbgBackend *backend)
{
  DevbgBackendUdev *self = DEVBG_BACKEND_UDEV (backend);
  /* Empty, not NULL: every subsystem (NULL would be no uevents at all). A
   * vendor's ioctl node may be in any; uevents are rare, and each costs a
   * property lookup. */
  const char *const all[] = { NULL };

  gint64 start = g_get_monotonic_time ();

  if (self->client != NULL)
    return;
  /* Subscribed before enumerating, so nothing falls between the two. */
  self->client = g_udev_client_new (all);
  g_signal_connect (self->client, "uevent", G_CALLBACK (on_uevent), self);
  enumerate (self, "usb");
  enumerate (self, "hidraw");
  enumerate (self, "tty");
  enumerate_marked (self);
  /* bench/bench_udev.py reads this line. */
  g_info ("udev backend: %u devices, enumerated in %.1f ms", g_hash_table_size (self->entries),
          (double) (g_get_monotonic_time () - start) / 1000.0);
  devbg_backend_emit_settled (backend);
}

typedef struct {
  char *node;
  Kind  kind;
} OpenData;

static void
open_data_free (OpenData *o)
{
  g_free (o->node);
  g_free (o);
}

/* A serial line as the task expects it: raw bytes, no echo, no line
 * discipline, blocking reads. Opened non-blocking so that a modem line
 * without carrier does not hang the open. */
static int
open_tty_raw (const char *node, GError **error)
{
  struct termios t;
  int fd = open (node, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  int saved;

  if (fd < 0)
    goto fail;
  if (tcgetattr (fd, &t) < 0)
    goto fail;
  cfmakeraw (&t);
  t.c_cflag |= CLOCAL | CREAD;
  if (tcsetattr (fd, TCSANOW, &t) < 0)
    goto fail;
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK) < 0)
    goto fail;
  return fd;
fail:
  saved = errno;
  if (fd >= 0)
    close (fd);
  g_set_error (error, DEVBG_ERROR, saved == ENOENT || saved == ENODEV || saved == ENXIO
                                     ? DEVBG_ERROR_NO_SUCH_DEVICE : DEVBG_ERROR_FAILED,
               fd < 0 ? "cannot open %s: %s" : "cannot put %s in raw mode: %s", node,
               g_strerror (saved));
  return -1;
}

static void
open_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpenData *o = task_data;
  GError *error = NULL;
  int fd;

  if (o->kind == KIND_TTY)
    fd = open_tty_raw (o->node, &error);
  else
    {
      fd = open (o->node, O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (fd < 0)
        {
          int saved = errno;
          error = g_error_new (DEVBG_ERROR, saved == ENOENT || saved == ENODEV || saved == ENXIO
                                              ? DEVBG_ERROR_NO_SUCH_DEVICE : DEVBG_ERROR_FAILED,
                               "cannot open %s: %s", o->node, g_strerror (saved));
        }
    }
  if (fd < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, fd);
}

/* Read/write activity on a HID or serial node, counted when sampled. */
static void
watch_node (UdevEntry *entry)
{
  if (entry->inotify_fd >= 0 || (entry->kind != KIND_HIDRAW && entry->kind != KIND_TTY))
    return;
  entry->inotify_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  if (entry->inotify_fd < 0)
    {
      g_warning ("udev backend: cannot watch %s for I/O: %s", entry->node, g_strerror (errno));
      return;
    }
  if (inotify_add_watch (entry->inotify_fd, entry->node, IN_ACCESS | IN_MODIFY) < 0)
    {
      g_warning ("udev backend: cannot watch %s for I/O: %s", entry->node, g_strerror (errno));
      close (entry->inotify_fd);
      entry->inotify_fd = -1;
    }
}

static void
udev_open_async (DevbgBackend *backend, DevbgDevice *device, GCancellable *cancellable,
                 GAsyncReadyCallback callback, gpointer user_data)
{
  DevbgBackendUdev *self = DEVBG_BACKEND_UDEV (backend);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  UdevEntry *entry = g_hash_table_lookup (self->entries, devbg_device_get_backend_key (device));
  OpenData *o;

  if (entry == NULL || entry->device != device || !devbg_device_get_attached (device))
    {
      g_task_return_new_error (task, DEVBG_ERROR, DEVBG_ERROR_NO_SUCH_DEVICE,
                               "device %s is not attached", devbg_device_get_backend_key (device));
      return;
    }
  watch_node (entry);
  o = g_new0 (OpenData, 1);
  o->node = g_strdup (entry->node);
  o->kind = entry->kind;
  g_task_set_task_data (task, o, (GDestroyNotify) open_data_free);
  /* The fd always comes back, to be closed in open_finish() when the
   * caller canceled meanwhile: GTask's own check would drop it open. */
  g_task_set_check_cancellable (task, FALSE);
  /* An open can block (a USB device that does not answer): off the main
   * loop. */
  g_task_run_in_thread (task, open_in_thread);
}

static int
udev_open_finish (DevbgBackend *backend, GAsyncResult *result, GError **error)
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
read_urbnum (const char *usb_syspath)
{
  g_autofree char *path = g_build_filename (usb_syspath, "urbnum", NULL);
  char buf[32];
  ssize_t n;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return 0;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return g_ascii_strtoull (buf, NULL, 10);
}

/* Drains the node's inotify queue: each event (an overflow too) is I/O. */
static void
count_node_events (UdevEntry *entry)
{
  char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  ssize_t n;

  if (entry->inotify_fd < 0)
    return;
  while ((n = read (entry->inotify_fd, buf, sizeof buf)) > 0)
    for (char *p = buf; p < buf + n;)
      {
        const struct inotify_event *ev = (const struct inotify_event *) p;
        entry->node_events++;
        p += sizeof *ev + ev->len;
      }
}

static guint64
udev_get_io_counter (DevbgBackend *backend, DevbgDevice *device)
{
  DevbgBackendUdev *self = DEVBG_BACKEND_UDEV (backend);
  UdevEntry *entry = g_hash_table_lookup (self->entries, devbg_device_get_backend_key (device));
  DevbgProtocol protocol = devbg_device_get_protocol (device);

  if (entry == NULL || entry->device != device)
    return 0;
  /* Servicing-only ioctl nodes need no liveness (DESIGN section 4). */
  if (protocol == DEVBG_PROTOCOL_GENERIC_IOCTL)
    return 0;
  count_node_events (entry);
  return entry->node_events + (entry->usb_syspath != NULL ? read_urbnum (entry->usb_syspath) : 0);
}

/* The kernel takes a device's node out of sysfs as it unplugs it, before
 * udev has handled the removal and told devbgd. */
static gboolean
udev_is_gone (DevbgBackend *backend, DevbgDevice *device)
{
  DevbgBackendUdev *self = DEVBG_BACKEND_UDEV (backend);
  UdevEntry *entry = g_hash_table_lookup (self->entries, devbg_device_get_backend_key (device));

  if (entry == NULL || entry->device != device)
    return TRUE; /* its removal has come */
  return access (entry->syspath, F_OK) != 0 && errno == ENOENT;
}

static void
backend_iface_init (DevbgBackendInterface *iface)
{
  iface->get_name = udev_get_name;
  iface->start = udev_start;
  iface->open_async = udev_open_async;
  iface->open_finish = udev_open_finish;
  iface->get_io_counter = udev_get_io_counter;
  iface->is_gone = udev_is_gone;
}

gboolean
devbg_backend_udev_available (void)
{
  /* No sysfs (a container without /sys): nothing to enumerate or follow. */
  return g_file_test ("/sys/devices", G_FILE_TEST_IS_DIR);
}

DevbgBackend *
devbg_backend_udev_new (GHashTable *families)
{
  DevbgBackendUdev *self = g_object_new (DEVBG_TYPE_BACKEND_UDEV, NULL);

  self->families = families != NULL ? g_hash_table_ref (families) : NULL;
  return DEVBG_BACKEND (self);
}

static void
devbg_backend_udev_dispose (GObject *object)
{
  DevbgBackendUdev *self = DEVBG_BACKEND_UDEV (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_pointer (&self->entries, g_hash_table_unref);
  g_clear_pointer (&self->families, g_hash_table_unref);
  G_OBJECT_CLASS (devbg_backend_udev_parent_class)->dispose (object);
}

static void
devbg_backend_udev_class_init (DevbgBackendUdevClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = devbg_backend_udev_dispose;
}

static void
devbg_backend_udev_init (DevbgBackendUdev *self)
{
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) entry_free);
}
