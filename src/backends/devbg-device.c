/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-device"

#include "devbg-device.h"

#include <string.h>

#include "devbg-backend.h"

struct _DevbgDevice {
  GObject       parent;
  DevbgBackend *backend; /* not a reference: backends outlive their devices' use */
  char         *backend_key;
  char         *id;
  char         *name;
  DevbgProtocol protocol;
  GStrv         hardware_ids;
  char         *model_id;
  char         *container_id;
  char         *serial;
  char         *firmware_version;
  char         *stable_key;
  char         *node;
  gboolean      attached;
  DevbgDeviceOwner owner;
  /* devbg_device_to_variant()'s answer, made at its first call after a
   * change: a list of 1,000 devices would build 10,000 values each time
   * (10-18 ms of ListDevices). */
  GVariant     *properties;
};

/* Every setter: the kept properties no longer hold. */
static void
changed (DevbgDevice *d)
{
  g_clear_pointer (&d->properties, g_variant_unref);
}

enum { SIGNAL_REMOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (DevbgDevice, devbg_device, G_TYPE_OBJECT)

DevbgDevice *
devbg_device_new (DevbgBackend *backend, const char *backend_key)
{
  DevbgDevice *device = g_object_new (DEVBG_TYPE_DEVICE, NULL);

  device->backend = backend;
  device->backend_key = g_strdup (backend_key);
  device->attached = TRUE;
  return device;
}

const char *devbg_device_get_id (DevbgDevice *d) { return d->id; }
DevbgBackend *devbg_device_get_backend (DevbgDevice *d) { return d->backend; }
const char *devbg_device_get_backend_key (DevbgDevice *d) { return d->backend_key; }
const char *devbg_device_get_name (DevbgDevice *d) { return d->name ? d->name : ""; }
DevbgProtocol devbg_device_get_protocol (DevbgDevice *d) { return d->protocol; }
const char *devbg_device_get_model_id (DevbgDevice *d) { return d->model_id ? d->model_id : ""; }
const char *devbg_device_get_container_id (DevbgDevice *d) { return d->container_id ? d->container_id : ""; }
const char *devbg_device_get_serial (DevbgDevice *d) { return d->serial ? d->serial : ""; }
const char *devbg_device_get_firmware_version (DevbgDevice *d) { return d->firmware_version ? d->firmware_version : ""; }
gboolean devbg_device_get_attached (DevbgDevice *d) { return d->attached; }

const char *const *
devbg_device_get_hardware_ids (DevbgDevice *d)
{
  static const char *const none[] = { NULL };

  return d->hardware_ids ? (const char *const *) d->hardware_ids : none;
}

const char *
devbg_device_get_consent_model (DevbgDevice *d)
{
  const char *const *ids = devbg_device_get_hardware_ids (d);

  if (d->model_id != NULL && *d->model_id != '\0')
    return d->model_id;
  for (guint i = 0; ids[i] != NULL; i++)
    if (strstr (ids[i], "&REV_") == NULL)
      return ids[i];
  return ids[0] != NULL ? ids[0] : devbg_device_get_id (d);
}

static void
replace (DevbgDevice *d, char **field, const char *value)
{
  char *copy = g_strdup (value);

  g_free (*field);
  *field = copy;
  changed (d);
}

void devbg_device_set_name (DevbgDevice *d, const char *v) { replace (d, &d->name, v); }
const char *devbg_device_get_node (DevbgDevice *d) { return d->node; }
const DevbgDeviceOwner *devbg_device_get_owner (DevbgDevice *d) { return &d->owner; }
void devbg_device_set_node (DevbgDevice *d, const char *v) { replace (d, &d->node, v); }
void devbg_device_set_owner (DevbgDevice *d, const DevbgDeviceOwner *o) { d->owner = *o; changed (d); }
void devbg_device_set_protocol (DevbgDevice *d, DevbgProtocol p) { d->protocol = p; changed (d); }
void devbg_device_set_model_id (DevbgDevice *d, const char *v) { replace (d, &d->model_id, v); }
void devbg_device_set_container_id (DevbgDevice *d, const char *v) { replace (d, &d->container_id, v); }
void devbg_device_set_serial (DevbgDevice *d, const char *v) { replace (d, &d->serial, v); }
void devbg_device_set_firmware_version (DevbgDevice *d, const char *v) { replace (d, &d->firmware_version, v); }
void devbg_device_set_id (DevbgDevice *d, const char *v) { replace (d, &d->id, v); }
void devbg_device_set_stable_key (DevbgDevice *d, const char *v) { replace (d, &d->stable_key, v); }

void
devbg_device_set_hardware_ids (DevbgDevice *d, const char *const *ids)
{
  g_strfreev (d->hardware_ids);
  d->hardware_ids = g_strdupv ((char **) ids);
  changed (d);
}

/* IDs travel in D-Bus strings, command lines and file names: keep them to
 * a safe alphabet. */
static char *
sanitize (const char *text)
{
  char *s = g_strdup (text);

  for (char *c = s; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_' && *c != '.')
      *c = '_';
  return s;
}

char *
devbg_device_compute_id (DevbgDevice *d)
{
  g_autofree char *part = NULL;
  const char *backend = d->backend ? devbg_backend_get_name (d->backend) : "none";

  if (d->stable_key != NULL && *d->stable_key != '\0')
    part = sanitize (d->stable_key);
  else if (d->serial != NULL && *d->serial != '\0')
    part = sanitize (d->serial);
  else
    {
      /* "c": one physical device's container; "k": only this attachment. */
      gboolean container = d->container_id != NULL && *d->container_id != '\0';
      g_autofree char *raw = g_strconcat (container ? "c" : "k",
                                          container ? d->container_id : d->backend_key, NULL);
      part = sanitize (raw);
    }
  return g_strdup_printf ("%s-%s", backend, part);
}

void
devbg_device_mark_removed (DevbgDevice *d)
{
  if (!d->attached)
    return;
  d->attached = FALSE;
  changed (d);
  g_signal_emit (d, signals[SIGNAL_REMOVED], 0);
}

static GVariant *
build_properties (DevbgDevice *d)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (devbg_device_get_name (d)));
  g_variant_builder_add (&b, "{sv}", "protocol",
                         g_variant_new_string (devbg_protocol_to_string (d->protocol)));
  g_variant_builder_add (&b, "{sv}", "hardware-ids",
                         g_variant_new_strv (devbg_device_get_hardware_ids (d), -1));
  g_variant_builder_add (&b, "{sv}", "model-id", g_variant_new_string (devbg_device_get_model_id (d)));
  g_variant_builder_add (&b, "{sv}", "container-id",
                         g_variant_new_string (devbg_device_get_container_id (d)));
  g_variant_builder_add (&b, "{sv}", "serial", g_variant_new_string (devbg_device_get_serial (d)));
  g_variant_builder_add (&b, "{sv}", "backend",
                         g_variant_new_string (d->backend ? devbg_backend_get_name (d->backend) : ""));
  g_variant_builder_add (&b, "{sv}", "attached", g_variant_new_boolean (d->attached));
  if (d->firmware_version != NULL)
    g_variant_builder_add (&b, "{sv}", "firmware-version", g_variant_new_string (d->firmware_version));
  if (d->node != NULL)
    g_variant_builder_add (&b, "{sv}", "node", g_variant_new_string (d->node));
  return g_variant_builder_end (&b);
}

GVariant *
devbg_device_to_variant (DevbgDevice *d)
{
  if (d->properties == NULL)
    {
      d->properties = g_variant_ref_sink (build_properties (d));
      /* Serialized once, here: a ListDevices page then copies its bytes
       * instead of serializing its ~30 values again for every page. */
      (void) g_variant_get_data (d->properties);
    }
  return g_variant_ref (d->properties);
}

static void
devbg_device_finalize (GObject *object)
{
  DevbgDevice *d = DEVBG_DEVICE (object);

  g_free (d->backend_key);
  g_free (d->node);
  g_free (d->id);
  g_free (d->name);
  g_strfreev (d->hardware_ids);
  g_free (d->model_id);
  g_free (d->container_id);
  g_free (d->serial);
  g_free (d->firmware_version);
  g_free (d->stable_key);
  g_clear_pointer (&d->properties, g_variant_unref);
  G_OBJECT_CLASS (devbg_device_parent_class)->finalize (object);
}

static void
devbg_device_class_init (DevbgDeviceClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = devbg_device_finalize;
  /* The device is gone: a use task on it loses its condition. */
  signals[SIGNAL_REMOVED] = g_signal_new ("removed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
}

static void
devbg_device_init (DevbgDevice *d)
{
  (void) d;
}
