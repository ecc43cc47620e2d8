/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

/**
 * DevbgDeviceInfo:
 *
 * A device devbgd knows, as devbg_client_list_devices_async() and the
 * #DevbgClient::device-added signal give it: its stable ID (what a request
 * names), its name, protocol and hardware IDs. Immutable: a change of the
 * device comes as a new object with #DevbgClient::device-changed.
 *
 * Since: 0.1
 */
/**
 * DEVBG_TYPE_DEVICE_INFO:
 *
 * The #GType of #DevbgDeviceInfo.
 *
 * Since: 0.1
 */
#define DEVBG_TYPE_DEVICE_INFO (devbg_device_info_get_type ())
G_DECLARE_FINAL_TYPE (DevbgDeviceInfo, devbg_device_info, DEVBG, DEVICE_INFO, GObject)

const char         *devbg_device_info_get_id (DevbgDeviceInfo *info);
const char         *devbg_device_info_get_name (DevbgDeviceInfo *info);
DevbgProtocol       devbg_device_info_get_protocol (DevbgDeviceInfo *info);
const char * const *devbg_device_info_get_hardware_ids (DevbgDeviceInfo *info);
const char         *devbg_device_info_get_model_id (DevbgDeviceInfo *info);
const char         *devbg_device_info_get_serial (DevbgDeviceInfo *info);
const char         *devbg_device_info_get_firmware_version (DevbgDeviceInfo *info);
gboolean            devbg_device_info_get_attached (DevbgDeviceInfo *info);
GVariant           *devbg_device_info_get_properties (DevbgDeviceInfo *info);

G_END_DECLS
