/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Internal to libdevbg: how the client makes a DevbgDeviceInfo.
 */
#pragma once

#include "devbg-device-info.h"

G_BEGIN_DECLS

/* From devbgd's (id, a{sv}) of ListDevices, DeviceAdded, DeviceChanged.
 * Missing or mistyped properties read as empty. */
DevbgDeviceInfo *devbg_device_info_new (const char *id,
                                        GVariant   *properties);

G_END_DECLS
