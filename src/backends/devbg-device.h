/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DevbgDevice: one attachment of a device, as a backend reports it. The
 * backend fills the fields before it announces the device; the device
 * registry (devbg-devices.h) then gives it its stable ID. When the device
 * is removed, the object stays valid for whoever holds a reference, with
 * attached FALSE, and emits "removed"; if the same device comes back (a
 * dock after its firmware reset), it is a new DevbgDevice with the same ID.
 */
#pragma once

#include <glib-object.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

typedef struct _DevbgBackend DevbgBackend;

#define DEVBG_TYPE_DEVICE (devbg_device_get_type ())
G_DECLARE_FINAL_TYPE (DevbgDevice, devbg_device, DEVBG, DEVICE, GObject)

/* @backend_key: the backend's own name for this attachment (a sysfs path,
 * a BlueZ object path, a simulator's device ID); unique in the backend. */
DevbgDevice   *devbg_device_new (DevbgBackend *backend, const char *backend_key);

/* The stable ID: the same for the same physical device across replugs and
 * reboots of the device (NULL until the registry assigned it). */
const char    *devbg_device_get_id (DevbgDevice *device);
DevbgBackend  *devbg_device_get_backend (DevbgDevice *device);
const char    *devbg_device_get_backend_key (DevbgDevice *device);
const char    *devbg_device_get_name (DevbgDevice *device);
DevbgProtocol  devbg_device_get_protocol (DevbgDevice *device);
/* Most specific first, e.g. USB\VID_1209&PID_D0C1&REV_0100, USB\VID_1209&PID_D0C1 */
const char *const *devbg_device_get_hardware_ids (DevbgDevice *device);
const char    *devbg_device_get_model_id (DevbgDevice *device);     /* "" when none */
/* The model use consent is stored for: the model ID; without one, the
 * product as the device names it, its most specific hardware ID without a
 * revision (a firmware update asks nothing again); else its most specific
 * hardware ID, else its device ID. Never "": devices without a model ID
 * are not one model. */
const char    *devbg_device_get_consent_model (DevbgDevice *device);
const char    *devbg_device_get_container_id (DevbgDevice *device); /* "" when none */
const char    *devbg_device_get_serial (DevbgDevice *device);       /* "" when none */
const char    *devbg_device_get_firmware_version (DevbgDevice *device); /* "" when unknown */
gboolean       devbg_device_get_attached (DevbgDevice *device);

/* For backends, before the device is announced or on a change. */
/* Who may open the device, for the device-access row (devbg-access.c):
 * its node's path (its owner, mode and ACL are read there), or, for a
 * device with no node (a simulated one), an owner and mode given by its
 * backend. Neither: any user may (the backend opens it for all alike). */
typedef struct {
  gboolean known; /* uid, gid and mode are set */
  guint32  uid, gid;
  guint32  mode;  /* permission bits, as st_mode & 0777 */
} DevbgDeviceOwner;

const char    *devbg_device_get_node (DevbgDevice *device); /* NULL when none */
const DevbgDeviceOwner *devbg_device_get_owner (DevbgDevice *device);
void devbg_device_set_node (DevbgDevice *device, const char *node);
void devbg_device_set_owner (DevbgDevice *device, const DevbgDeviceOwner *owner);

void devbg_device_set_name (DevbgDevice *device, const char *name);
void devbg_device_set_protocol (DevbgDevice *device, DevbgProtocol protocol);
void devbg_device_set_hardware_ids (DevbgDevice *device, const char *const *ids);
void devbg_device_set_model_id (DevbgDevice *device, const char *model_id);
void devbg_device_set_container_id (DevbgDevice *device, const char *container_id);
void devbg_device_set_serial (DevbgDevice *device, const char *serial);
void devbg_device_set_firmware_version (DevbgDevice *device, const char *version);
/* What names this function of this physical device across replugs, when
 * the backend knows better than the serial alone (one serial shared by the
 * HID, serial and usbfs functions of a composite USB device). */
void devbg_device_set_stable_key (DevbgDevice *device, const char *key);

/* For the registry. The ID is built from the backend's name and the stable
 * key if the backend set one, else the serial, else the container ID, else
 * the backend key: a serial or container
 * survives a replug, so the device comes back with its ID. */
char *devbg_device_compute_id (DevbgDevice *device);
void  devbg_device_set_id (DevbgDevice *device, const char *id);
/* Marks the device gone and emits "removed". */
void  devbg_device_mark_removed (DevbgDevice *device);

/* Its properties as D-Bus a{sv} (see org.devbg.Devbg1.Devices.xml): a new
 * reference, not floating (kept until the device changes). */
GVariant *devbg_device_to_variant (DevbgDevice *device);

G_END_DECLS
