/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
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
 * the same values as the getters. */
typedef struct {
  const char *name;
  const char *blurb;
  char        kind;                /* GVariant-style: s, b, u, x, v, a(s); e: an enum */
  GType     (*enum_type) (void);
  gsize       offset;
} FieldProperty;

static const FieldProperty field_properties[] = {
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
  const FieldProperty *p;
  const guint8 *base = (const guint8 *) object;

  if (id == 0 || id > G_N_ELEMENTS (field_properties))
    {
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      return;
    }
  p = &field_properties[id - 1];
  if (p->kind == 's')
    g_value_set_string (value, *(char * const *) (base + p->offset));
  else if (p->kind == 'b')
    g_value_set_boolean (value, *(const gboolean *) (base + p->offset));
  else if (p->kind == 'u')
    g_value_set_uint (value, *(const guint *) (base + p->offset));
  else if (p->kind == 'x')
    g_value_set_int64 (value, *(const gint64 *) (base + p->offset));
  else if (p->kind == 'v')
    g_value_set_variant (value, *(GVariant * const *) (base + p->offset));
  else if (p->kind == 'a')
    g_value_set_boxed (value, *(char ** const *) (base + p->offset));
  else
    g_value_set_enum (value, *(const int *) (base + p->offset));
}

static void
install_field_properties (GObjectClass *klass)
{
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  klass->get_property = devbg_device_info_get_property;
  for (guint i = 0; i < G_N_ELEMENTS (field_properties); i++)
    {
      const FieldProperty *p = &field_properties[i];
      GParamSpec *pspec;

      if (p->kind == 's')
        pspec = g_param_spec_string (p->name, NULL, p->blurb, NULL, flags);
      else if (p->kind == 'b')
        pspec = g_param_spec_boolean (p->name, NULL, p->blurb, FALSE, flags);
      else if (p->kind == 'u')
        pspec = g_param_spec_uint (p->name, NULL, p->blurb, 0, G_MAXUINT, 0, flags);
      else if (p->kind == 'x')
        pspec = g_param_spec_int64 (p->name, NULL, p->blurb, G_MININT64, G_MAXINT64, 0, flags);
      else if (p->kind == 'a')
        pspec = g_param_spec_boxed (p->name, NULL, p->blurb, G_TYPE_STRV, flags);
      else if (p->kind == 'v')
        pspec = g_param_spec_variant (p->name, NULL, p->blurb, G_VARIANT_TYPE_VARDICT, NULL,
                                      flags);
      else
        pspec = g_param_spec_enum (p->name, NULL, p->blurb, p->enum_type (), 0, flags);
      g_object_class_install_property (klass, i + 1, pspec);
    }
}

static void
devbg_device_info_class_init (DevbgDeviceInfoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = devbg_device_info_finalize;
  install_field_properties (G_OBJECT_CLASS (klass));
}

static void
devbg_device_info_init (DevbgDeviceInfo *info)
{
}

static char *
lookup_string (GVariantDict *dict, const char *key)
{
  const char *value = NULL;

  return g_variant_dict_lookup (dict, key, "&s", &value) ? g_strdup (value) : NULL;
}

DevbgDeviceInfo *
devbg_device_info_new (const char *id, GVariant *properties)
{
  DevbgDeviceInfo *info = g_object_new (DEVBG_TYPE_DEVICE_INFO, NULL);
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (properties);
  g_autofree char *protocol = NULL;

  info->id = g_strdup (id);
  info->properties = g_variant_ref_sink (properties);
  info->name = lookup_string (&dict, "name");
  if (info->name == NULL)
    info->name = g_strdup ("");
  protocol = lookup_string (&dict, "protocol");
  if (!devbg_protocol_from_string (protocol, &info->protocol))
    info->protocol = DEVBG_PROTOCOL_UNKNOWN;
  if (!g_variant_dict_lookup (&dict, "hardware-ids", "^as", &info->hardware_ids))
    info->hardware_ids = g_new0 (char *, 1);
  info->model_id = lookup_string (&dict, "model-id");
  if (info->model_id == NULL)
    info->model_id = g_strdup ("");
  info->serial = lookup_string (&dict, "serial");
  if (info->serial == NULL)
    info->serial = g_strdup ("");
  info->firmware_version = lookup_string (&dict, "firmware-version");
  if (!g_variant_dict_lookup (&dict, "attached", "b", &info->attached))
    info->attached = TRUE;
  return info;
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
