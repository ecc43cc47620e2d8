/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "devbg-device-page.h"
#include "devbg-field-properties.h"
#include "devbg-device-info-private.h"

#include "devbg-enum-types.h"

struct _DevbgDeviceInfo {
  GObject        parent;
  char          *id;
  GVariant      *properties;   /* a{sv}, as devbgd sent it */
  char          *name;
  DevbgProtocol  protocol;
  GStrv          hardware_ids;
  char          *model_id;
  char          *serial;
  char          *firmware_version; /* NULL when devbgd does not know it */
  gboolean       attached;
};

G_DEFINE_FINAL_TYPE (DevbgDeviceInfo, devbg_device_info, G_TYPE_OBJECT)

static void
devbg_device_info_finalize (GObject *object)
{
  DevbgDeviceInfo *info = DEVBG_DEVICE_INFO (object);

  g_free (info->id);
  g_variant_unref (info->properties);
  g_free (info->name);
  g_strfreev (info->hardware_ids);
  g_free (info->model_id);
  g_free (info->serial);
  g_free (info->firmware_version);
  G_OBJECT_CLASS (devbg_device_info_parent_class)->finalize (object);
}


/* Read-only properties, one per field, for bindings and GObject tools:
 * the same values as the getters (devbg-field-properties.h). */
static const DevbgFieldProperty field_properties[] = {
  { "id", "the device's stable ID, what a request names", 's', NULL,
    G_STRUCT_OFFSET (DevbgDeviceInfo, id) },
  { "name", "the device's name, for people", 's', NULL, G_STRUCT_OFFSET (DevbgDeviceInfo, name) },
  { "protocol", "the protocol the device is reached by", 'e', devbg_protocol_get_type,
    G_STRUCT_OFFSET (DevbgDeviceInfo, protocol) },
  { "hardware-ids", "its hardware IDs, most specific first", 'a', NULL,
    G_STRUCT_OFFSET (DevbgDeviceInfo, hardware_ids) },
  { "model-id", "the model ID, empty when it has none", 's', NULL,
    G_STRUCT_OFFSET (DevbgDeviceInfo, model_id) },
  { "serial", "the serial number, empty when unknown", 's', NULL,
    G_STRUCT_OFFSET (DevbgDeviceInfo, serial) },
  { "firmware-version", "the firmware version, none when unknown", 's', NULL,
    G_STRUCT_OFFSET (DevbgDeviceInfo, firmware_version) },
  { "attached", "whether the device is attached", 'b', NULL,
    G_STRUCT_OFFSET (DevbgDeviceInfo, attached) },
  { "properties", "all its properties as devbgd sent them, an a{sv} dictionary", 'v', NULL,
    G_STRUCT_OFFSET (DevbgDeviceInfo, properties) }
};

/**
 * DevbgDeviceInfo:id:
 *
 * The device's stable ID, what a request names.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:name:
 *
 * The device's name, for people.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:protocol:
 *
 * The protocol the device is reached by.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:hardware-ids:
 *
 * Its hardware IDs, most specific first.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:model-id:
 *
 * The model ID, "" when it has none.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:serial:
 *
 * The serial number, "" when unknown.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:firmware-version:
 *
 * The firmware version, NULL when unknown.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:attached:
 *
 * Whether the device is attached.
 *
 * Since: 0.1
 */
/**
 * DevbgDeviceInfo:properties:
 *
 * All its properties as devbgd sent them, an a{sv} dictionary.
 *
 * Since: 0.1
 */

static void
devbg_device_info_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  devbg_field_properties_get (object, field_properties, G_N_ELEMENTS (field_properties), id, value,
                              pspec);
}

static void
devbg_device_info_class_init (DevbgDeviceInfoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = devbg_device_info_finalize;
  G_OBJECT_CLASS (klass)->get_property = devbg_device_info_get_property;
  devbg_field_properties_install (G_OBJECT_CLASS (klass), field_properties,
                                  G_N_ELEMENTS (field_properties));
}

static void
devbg_device_info_init (DevbgDeviceInfo *info)
{
}

/* The field that property @key sets, when @value has its type; the
 * others stay in the properties only. A key given twice: the last wins.
 * @value is in normal form (devbg_device_properties_foreach()). */
static void
take_property (const char *key, const char *type, gsize type_length, DevbgSerialized value,
               gpointer data)
{
  DevbgDeviceInfo *info = data;
  gboolean is_string = type_length == 1 && *type == 's';
  const char *string = is_string ? (const char *) value.data : NULL;
  char **field = NULL;

  if (strcmp (key, "name") == 0)
    field = &info->name;
  else if (strcmp (key, "model-id") == 0)
    field = &info->model_id;
  else if (strcmp (key, "serial") == 0)
    field = &info->serial;
  else if (strcmp (key, "firmware-version") == 0)
    field = &info->firmware_version;
  else if (strcmp (key, "protocol") == 0 && is_string &&
           !devbg_protocol_from_string (string, &info->protocol))
    info->protocol = DEVBG_PROTOCOL_UNKNOWN;
  else if (strcmp (key, "hardware-ids") == 0 && type_length == 2 && memcmp (type, "as", 2) == 0)
    {
      g_strfreev (info->hardware_ids);
      (void) devbg_serialized_strv (value, &info->hardware_ids);
    }
  else if (strcmp (key, "attached") == 0 && type_length == 1 && *type == 'b')
    (void) devbg_serialized_boolean (value, &info->attached);
  if (field != NULL && is_string)
    {
      g_free (*field);
      *field = g_strdup (string);
    }
}

DevbgDeviceInfo *
devbg_device_info_new_serialized (const char *id, DevbgSerialized properties, GError **error)
{
  g_autoptr(DevbgDeviceInfo) info =
    (DevbgDeviceInfo *) g_object_new_with_properties (DEVBG_TYPE_DEVICE_INFO, 0, NULL, NULL);
  g_autoptr(GBytes) copy = NULL;

  info->id = g_strdup (id);
  info->name = g_strdup ("");
  info->protocol = DEVBG_PROTOCOL_UNKNOWN;
  info->model_id = g_strdup ("");
  info->serial = g_strdup ("");
  info->attached = TRUE;
  /* One pass over the serialized entries, in place: through GVariant's
   * accessors a device took 15 us, most of a 1,000-device list. */
  if (!devbg_device_properties_foreach (properties, take_property, info, error))
    return NULL;
  if (info->hardware_ids == NULL)
    info->hardware_ids = g_new0 (char *, 1);
  /* A copy of the device's own bytes, so that a device kept does not keep
   * its whole page. Checked above, but kept untrusted: GVariant checks
   * again what an app reads of it, the types this library does not know
   * included. */
  copy = g_bytes_new (properties.data, properties.size);
  info->properties = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, copy,
                                                                   FALSE));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  {
    GVariant *swapped = g_variant_byteswap (info->properties);

    g_variant_unref (info->properties);
    info->properties = swapped;
  }
#endif
  return g_steal_pointer (&info);
}

DevbgDeviceInfo *
devbg_device_info_new (const char *id, GVariant *properties, GError **error)
{
  g_autoptr(GVariant) little_endian = NULL;

  g_return_val_if_fail (g_variant_is_of_type (properties, G_VARIANT_TYPE_VARDICT), NULL);
#if G_BYTE_ORDER == G_BIG_ENDIAN
  little_endian = g_variant_byteswap (properties);
#else
  little_endian = g_variant_ref_sink (properties);
#endif
  return devbg_device_info_new_serialized (
    id, (DevbgSerialized) { g_variant_get_data (little_endian), g_variant_get_size (little_endian) },
    error);
}

/**
 * devbg_device_info_get_id:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: the device's ID, stable across replugs and reboots of the device;
 *   what devbg_trigger_request_async() takes
 *
 * Since: 0.1
 */
const char *
devbg_device_info_get_id (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), NULL);
  return info->id;
}

/**
 * devbg_device_info_get_name:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: the device's name, for people; may be ""
 *
 * Since: 0.1
 */
const char *
devbg_device_info_get_name (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), NULL);
  return info->name;
}

/**
 * devbg_device_info_get_protocol:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: the protocol the device is reached by, which decides the
 *   triggers that may use it; %DEVBG_PROTOCOL_UNKNOWN for one newer than
 *   this library
 *
 * Since: 0.1
 */
DevbgProtocol
devbg_device_info_get_protocol (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), DEVBG_PROTOCOL_UNKNOWN);
  return info->protocol;
}

/**
 * devbg_device_info_get_hardware_ids:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: (array zero-terminated=1) (transfer none): the device's hardware
 *   IDs, most specific first (for example "USB\VID_1209&PID_B0A1&REV_0100"),
 *   as device metadata matches them
 *
 * Since: 0.1
 */
const char * const *
devbg_device_info_get_hardware_ids (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), NULL);
  return (const char * const *) info->hardware_ids;
}

/**
 * devbg_device_info_get_model_id:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: the device's model ID (a GUID), "" when it has none
 *
 * Since: 0.1
 */
const char *
devbg_device_info_get_model_id (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), NULL);
  return info->model_id;
}

/**
 * devbg_device_info_get_serial:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: the device's serial number, "" when unknown
 *
 * Since: 0.1
 */
const char *
devbg_device_info_get_serial (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), NULL);
  return info->serial;
}

/**
 * devbg_device_info_get_firmware_version:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: (nullable): the device's firmware version, %NULL when devbgd's
 *   backend does not know it
 *
 * Since: 0.1
 */
const char *
devbg_device_info_get_firmware_version (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), NULL);
  return info->firmware_version;
}

/**
 * devbg_device_info_get_attached:
 * @info: a #DevbgDeviceInfo
 *
 * Returns: %TRUE while the device is attached
 *
 * Since: 0.1
 */
gboolean
devbg_device_info_get_attached (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), FALSE);
  return info->attached;
}

/**
 * devbg_device_info_get_properties:
 * @info: a #DevbgDeviceInfo
 *
 * All the device's properties as devbgd sent them, an `a{sv}` dictionary
 * (see the D-Bus API, org.devbg.Devbg1.Devices), including those this
 * library has no getter for.
 *
 * Returns: (transfer none): the properties
 *
 * Since: 0.1
 */
GVariant *
devbg_device_info_get_properties (DevbgDeviceInfo *info)
{
  g_return_val_if_fail (DEVBG_IS_DEVICE_INFO (info), NULL);
  return info->properties;
}
