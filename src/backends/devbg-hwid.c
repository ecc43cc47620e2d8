/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-hwid.h"

#include <stdlib.h>
#include <string.h>

static void
add_usb_device_ids (GPtrArray *out, const char *bus, guint16 vid, guint16 pid,
                    gboolean have_rev, guint16 rev, int mi)
{
  g_autofree char *mi_part = mi >= 0 ? g_strdup_printf ("&MI_%02X", (guint) mi) : g_strdup ("");

  if (have_rev)
    g_ptr_array_add (out, g_strdup_printf ("%s\\VID_%04X&PID_%04X&REV_%04X%s", bus, vid, pid,
                                           rev, mi_part));
  g_ptr_array_add (out, g_strdup_printf ("%s\\VID_%04X&PID_%04X%s", bus, vid, pid, mi_part));
}

static void
add_class_ids (GPtrArray *out, const char *word, guint8 c, guint8 s, guint8 p)
{
  g_ptr_array_add (out, g_strdup_printf ("USB\\%s_%02X&SubClass_%02X&Prot_%02X", word, c, s, p));
  g_ptr_array_add (out, g_strdup_printf ("USB\\%s_%02X&SubClass_%02X", word, c, s));
  g_ptr_array_add (out, g_strdup_printf ("USB\\%s_%02X", word, c));
}

static GStrv
finish (GPtrArray *out)
{
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

/* Windows' USB hub driver: a device with one interface is its function
 * and takes the interface's class when its own is 0; a device with more
 * (class 0, or the IAD class EF/02/01) is composite and its interfaces get
 * &MI_nn IDs. */
static gboolean
is_composite (const DevbgUsbIds *ids)
{
  gboolean iad = ids->dev_class == 0xEF && ids->dev_subclass == 0x02 && ids->dev_protocol == 0x01;

  return ids->num_interfaces > 1 && (ids->dev_class == 0 || iad);
}

static void
add_usb_ids (GPtrArray *out, const DevbgUsbIds *ids)
{
  gboolean composite = is_composite (ids);

  if (ids->interface_number >= 0 && composite)
    {
      add_usb_device_ids (out, "USB", ids->vid, ids->pid, TRUE, ids->rev, ids->interface_number);
      add_class_ids (out, "Class", ids->if_class, ids->if_subclass, ids->if_protocol);
      return;
    }
  add_usb_device_ids (out, "USB", ids->vid, ids->pid, TRUE, ids->rev, -1);
  if (composite)
    {
      add_class_ids (out, "DevClass", ids->dev_class, ids->dev_subclass, ids->dev_protocol);
      g_ptr_array_add (out, g_strdup ("USB\\COMPOSITE"));
    }
  else if (ids->dev_class != 0)
    add_class_ids (out, "Class", ids->dev_class, ids->dev_subclass, ids->dev_protocol);
  else
    add_class_ids (out, "Class", ids->if_class, ids->if_subclass, ids->if_protocol);
}

GStrv
devbg_hwid_usb (const DevbgUsbIds *ids)
{
  GPtrArray *out = g_ptr_array_new ();

  add_usb_ids (out, ids);
  return finish (out);
}

GStrv
devbg_hwid_mtp (const DevbgUsbIds *ids)
{
  GPtrArray *out = g_ptr_array_new ();

  add_usb_ids (out, ids);
  g_ptr_array_add (out, g_strdup ("USB\\MS_COMP_MTP"));
  return finish (out);
}

static const char *
hid_system_id (const DevbgHidIds *ids)
{
  if (ids->usage_page != 0x01)
    return NULL;
  switch (ids->usage)
    {
    case 0x02: return "HID_DEVICE_SYSTEM_MOUSE";
    case 0x06: return "HID_DEVICE_SYSTEM_KEYBOARD";
    case 0x04:
    case 0x05: return "HID_DEVICE_SYSTEM_GAME";
    default: return NULL;
    }
}

GStrv
devbg_hwid_hid (const DevbgHidIds *ids)
{
  GPtrArray *out = g_ptr_array_new ();

  if (ids->interface_number >= 0)
    add_usb_device_ids (out, "HID", ids->vid, ids->pid, ids->have_rev, ids->rev,
                        ids->interface_number);
  add_usb_device_ids (out, "HID", ids->vid, ids->pid, ids->have_rev, ids->rev, -1);
  if (ids->have_usage)
    {
      const char *system = hid_system_id (ids);
      g_ptr_array_add (out, g_strdup_printf ("HID\\VID_%04X&UP:%04X_U:%04X", ids->vid,
                                             ids->usage_page, ids->usage));
      if (system != NULL)
        g_ptr_array_add (out, g_strdup (system));
      g_ptr_array_add (out, g_strdup_printf ("HID_DEVICE_UP:%04X_U:%04X", ids->usage_page,
                                             ids->usage));
    }
  g_ptr_array_add (out, g_strdup ("HID_DEVICE"));
  return finish (out);
}

/* HID 1.11 section 6.2.2: short items are a prefix byte (tag, type, size
 * 0/1/2/4) and their data, little endian; 0xFE starts a long item. */
gboolean
devbg_hwid_hid_top_usage (const guint8 *d, gsize length, guint16 *usage_page, guint16 *usage)
{
  guint32 page = 0, local_usage = 0;
  gboolean have_usage = FALSE, extended = FALSE;
  gsize i = 0;

  while (i < length)
    {
      guint8 prefix = d[i];
      gsize size, tag, type;
      guint32 data = 0;

      if (prefix == 0xFE)
        {
          if (i + 2 >= length)
            return FALSE;
          i += 3 + (gsize) d[i + 1];
          continue;
        }
      size = (prefix & 3) == 3 ? 4 : (prefix & 3);
      type = (prefix >> 2) & 3;
      tag = prefix >> 4;
      if (i + 1 + size > length)
        return FALSE;
      for (gsize k = 0; k < size; k++)
        data |= (guint32) d[i + 1 + k] << (8 * k);
      i += 1 + size;
      if (type == 1 && tag == 0) /* Usage Page (global) */
        page = data;
      else if (type == 2 && tag == 0 && !have_usage) /* Usage (local): the first one counts */
        {
          local_usage = data;
          have_usage = TRUE;
          extended = size == 4; /* page in the upper half */
        }
      else if (type == 0 && tag == 0xA) /* Collection */
        {
          if (data != 1 || !have_usage) /* only an Application collection is top level */
            return FALSE;
          *usage_page = extended ? (guint16) (local_usage >> 16) : (guint16) page;
          *usage = (guint16) (local_usage & 0xFFFF);
          return TRUE;
        }
      else if (type == 0) /* other main items end the local state */
        have_usage = FALSE;
    }
  return FALSE;
}

static gboolean
parse_hex (const char *start, const char *end, guint32 max, guint32 *out)
{
  g_autofree char *part = g_strndup (start, (gsize) (end - start));
  char *rest = NULL;
  guint64 v;

  if (*part == '\0' || !g_ascii_isxdigit (*part))
    return FALSE;
  v = g_ascii_strtoull (part, &rest, 16);
  if (*rest != '\0' || v > max)
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

gboolean
devbg_hwid_parse_hid_id (const char *text, guint16 *bus, guint16 *vid, guint16 *pid)
{
  const char *c1, *c2, *end;
  guint32 b, v, p;

  if (text == NULL || (c1 = strchr (text, ':')) == NULL || (c2 = strchr (c1 + 1, ':')) == NULL)
    return FALSE;
  end = c2 + 1 + strcspn (c2 + 1, ".");
  /* Vendor and product are 32-bit fields in the kernel's name; USB and
   * Bluetooth IDs are 16-bit. */
  if (!parse_hex (text, c1, 0xFFFF, &b) || !parse_hex (c1 + 1, c2, 0xFFFF, &v) ||
      !parse_hex (c2 + 1, end, 0xFFFF, &p))
    return FALSE;
  *bus = (guint16) b;
  *vid = (guint16) v;
  *pid = (guint16) p;
  return TRUE;
}

/* RFC 4122 section 4.3, SHA-1, in a namespace of devbg's own (a fixed
 * random UUID), so the IDs do not collide with other name-based UUIDs. */
char *
devbg_hwid_container_id (const char *identity)
{
  static const guint8 ns[16] = { 0x5d, 0x0b, 0x9e, 0x2a, 0x43, 0x61, 0x4c, 0x8f,
                                 0x9a, 0x1e, 0x27, 0x70, 0xd4, 0x3b, 0x88, 0x15 };
  g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize len = sizeof digest;

  g_checksum_update (sha1, ns, sizeof ns);
  g_checksum_update (sha1, (const guchar *) identity, -1);
  g_checksum_get_digest (sha1, digest, &len);
  digest[6] = (digest[6] & 0x0F) | 0x50;
  digest[8] = (digest[8] & 0x3F) | 0x80;
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                          digest[0], digest[1], digest[2], digest[3], digest[4], digest[5],
                          digest[6], digest[7], digest[8], digest[9], digest[10], digest[11],
                          digest[12], digest[13], digest[14], digest[15]);
}

char *
devbg_hwid_usb_identity (guint16 vid, guint16 pid, const char *family, const char *serial,
                         const char *port_path)
{
  g_autofree char *product = family != NULL && *family != '\0' ? g_strdup (family)
                                                               : g_strdup_printf ("%04X", pid);

  if (serial != NULL && *serial != '\0')
    return g_strdup_printf ("%04X-%s-s%s", vid, product, serial);
  return g_strdup_printf ("%04X-%s-p%s", vid, product, port_path != NULL ? port_path : "");
}

char *
devbg_hwid_usb_product (const char *hardware_id)
{
  guint32 vid, pid;
  const char *p = hardware_id;

  if (p == NULL || g_ascii_strncasecmp (p, "USB\\VID_", 8) != 0 || strlen (p) < 21 ||
      g_ascii_strncasecmp (p + 12, "&PID_", 5) != 0 || (p[21] != '\0' && p[21] != '&'))
    return NULL;
  if (!parse_hex (p + 8, p + 12, 0xFFFF, &vid) || !parse_hex (p + 17, p + 21, 0xFFFF, &pid))
    return NULL;
  return g_strdup_printf ("USB\\VID_%04X&PID_%04X", vid, pid);
}

static char *
family_part (const char *text)
{
  g_autofree char *base = g_path_get_basename (text);
  char *dot = strchr (base, '.');
  char *out;

  if (dot != NULL && dot != base)
    *dot = '\0';
  out = g_strdup (base);
  for (char *c = out; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_')
      *c = '_';
  return out;
}

char *
devbg_hwid_metadata_family (const char *model_id, const char *origin,
                            const char *const *hardware_ids)
{
  g_autoptr(GHashTable) products = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *part = NULL;

  for (const char *const *id = hardware_ids; id != NULL && *id != NULL; id++)
    {
      char *product = devbg_hwid_usb_product (*id);
      if (product != NULL)
        g_hash_table_add (products, product);
    }
  if (g_hash_table_size (products) < 2)
    return NULL;
  if (model_id != NULL && *model_id != '\0')
    part = g_strndup (model_id, strcspn (model_id, "-"));
  else
    part = family_part (origin != NULL ? origin : "metadata");
  return g_strconcat ("md-", part, NULL);
}
